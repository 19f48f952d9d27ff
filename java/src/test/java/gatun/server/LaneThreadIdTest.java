package gatun.server;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The thread id a lane worker publishes, so that Python can move it off a shared core. */
class LaneThreadIdTest {
    @Test
    void eachThreadGetsItsOwnLinuxThreadId() throws InterruptedException {
        assumeTrue(Files.exists(Path.of("/proc/thread-self")), "Linux only");
        int[] other = new int[1];
        Thread t = new Thread(() -> other[0] = Lane.linuxThreadId());
        t.start();
        t.join();
        int mine = Lane.linuxThreadId();
        assertTrue(mine > 0 && other[0] > 0, mine + " " + other[0]);
        assertNotEquals(mine, other[0]);
        assertTrue(Files.exists(Path.of("/proc/self/task/" + mine)));
    }
}
