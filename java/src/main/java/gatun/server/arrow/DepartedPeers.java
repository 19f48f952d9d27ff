package gatun.server.arrow;

import gatun.server.ServerLog;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Shared memory a closed session's Python process may still be reading.
 *
 * <p>Python keeps what it received valid after its client closed (the Arrow
 * C data contract; README "Who owns what"): its arrays still map the JVM's
 * blocks of {@link ArrowBridge#allocator()}. A launched JVM exits with the
 * session, but a hosting JVM (a Spark driver) lives on, and a block freed at
 * session end would be handed to the next allocation — another session, even
 * another Python process — while the first one still reads it. So the holds a
 * session had on JVM-wide blocks are kept until the Python process that held
 * them has exited (its pid and start time no longer name a live process),
 * checked once a second by a daemon thread while any are kept.
 */
final class DepartedPeers {
    private static final long POLL_MILLIS = 1_000;

    private static final class Kept {
        final int pid;
        final long startTime;
        final List<Runnable> releases;

        Kept(int pid, long startTime, List<Runnable> releases) {
            this.pid = pid;
            this.startTime = startTime;
            this.releases = releases;
        }
    }

    private static final List<Kept> KEPT = new ArrayList<>();
    private static Thread reaper;

    private DepartedPeers() {
    }

    /**
     * Runs {@code releases} once process {@code pid} (started at
     * {@code startTime}, clock ticks since boot, 0 if unknown) has exited; at
     * once if it already has.
     *
     * @param pid the Python process
     * @param startTime its start time, as in the control segment's header
     * @param releases what gives the memory back
     */
    static void releaseAfterExit(int pid, long startTime, List<Runnable> releases) {
        if (releases.isEmpty()) {
            return;
        }
        if (!alive(pid, startTime)) {
            runAll(releases);
            return;
        }
        synchronized (KEPT) {
            KEPT.add(new Kept(pid, startTime, new ArrayList<>(releases)));
            if (reaper == null) {
                reaper = new Thread(DepartedPeers::reap, "gatun-departed-peers");
                reaper.setDaemon(true);
                reaper.start();
            }
        }
    }

    /** @return holds kept for processes that have not exited yet */
    static int kept() {
        synchronized (KEPT) {
            int n = 0;
            for (Kept k : KEPT) {
                n += k.releases.size();
            }
            return n;
        }
    }

    private static void reap() {
        while (true) {
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            List<Runnable> due = new ArrayList<>();
            synchronized (KEPT) {
                KEPT.removeIf(k -> {
                    if (alive(k.pid, k.startTime)) {
                        return false;
                    }
                    due.addAll(k.releases);
                    return true;
                });
                if (KEPT.isEmpty() && due.isEmpty()) {
                    reaper = null;
                    return;
                }
            }
            runAll(due);
        }
    }

    private static void runAll(List<Runnable> releases) {
        for (Runnable r : releases) {
            try {
                r.run();
            } catch (RuntimeException e) {
                ServerLog.LOG.warning("releasing a departed session's memory failed: " + e);
            }
        }
    }

    /** Whether {@code pid} is alive and is still the process that started at {@code startTime}. */
    static boolean alive(int pid, long startTime) {
        if (pid <= 0) {
            return false;
        }
        Path stat = Path.of("/proc", Integer.toString(pid), "stat");
        if (Files.isDirectory(Path.of("/proc", "self"))) {
            try {
                String s = Files.readString(stat, StandardCharsets.US_ASCII);
                String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
                if (f[0].equals("Z")) {
                    return false; // exited, not yet reaped
                }
                return startTime == 0 || Long.parseLong(f[22 - 3]) == startTime;
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
}
