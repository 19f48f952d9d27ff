package gatun.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import gatun.protocol.ProtocolVersion;
import gatun.protocol.Welcome;
import gatun.server.shm.ControlSegment;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Runs GatunServer as the Rust launcher does: a child JVM, the token on stdin, stdin EOF ends it. */
@Timeout(60)
class LauncherTest {
    private static final int LANES = 1;
    private static final int SLOT = 4096;

    @Test
    void childJvmServesAndDiesWithStdin() throws Exception {
        run(false);
    }

    @Test
    void exitOnCloseEndsTheJvmWithTheLastSession() throws Exception {
        run(true);
    }

    private void run(boolean exitOnClose) throws Exception {
        Path dir = Files.createTempDirectory("gatun-launch", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path socket = dir.resolve("s.sock");
        Path control = dir.resolve("control");
        long size = ControlSegment.requiredSize(LANES, SLOT);
        try (RandomAccessFile f = new RandomAccessFile(control.toFile(), "rw")) {
            f.setLength(size);
        }
        ControlSegment seg = ControlSegment.map(control, size);
        seg.writeHeader(LANES, SLOT, (int) ProcessHandle.current().pid(), 0);

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "--add-opens=java.base/java.nio=ALL-UNNAMED",
                "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "gatun.server.GatunServer",
                "--socket", socket.toString());
        if (exitOnClose) {
            pb.command().add("--exit-on-close");
        }
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.redirectOutput(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        try {
            byte[] token = new byte[16];
            new Random().nextBytes(token);
            OutputStream stdin = p.getOutputStream();
            stdin.write((HexFormat.of().formatHex(token) + "\n").getBytes(StandardCharsets.US_ASCII));
            stdin.flush();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!Files.exists(socket) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(Files.exists(socket), "server did not bind " + socket);
            try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                Welcome w = PyLane.hello(ch, token, 0, LANES, 0, ProtocolVersion.Current, control, size);
                assertNull(w.error());
                assertEquals(p.pid(), w.pid());
                Files.delete(socket); // Python may unlink the socket once every lane is connected
                PyLane lane = new PyLane(ch, seg.validate(LANES), 0);
                assertEquals(20L, lane.call(Wire.callStatic("java.lang.Math", "max", 10, 20).bytes()).value);
                assertEquals(List.of("a", "b", "c"),
                        lane.call(Wire.callStatic("java.util.Arrays", "asList", "a", "b", "c").bytes()).value);
                if (!exitOnClose) {
                    stdin.close();
                    assertTrue(p.waitFor(5, TimeUnit.SECONDS), "JVM did not exit on stdin EOF");
                }
            }
            if (exitOnClose) {
                assertTrue(p.waitFor(10, TimeUnit.SECONDS), "JVM did not exit after its last session");
                assertEquals(0, p.exitValue());
            }
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(socket);
            Files.deleteIfExists(control);
            Files.deleteIfExists(dir);
        }
        assertFalse(p.isAlive());
    }
}
