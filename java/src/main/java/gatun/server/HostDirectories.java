package gatun.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The private socket directories of hosted servers, and the sweep that
 * removes those of hosting JVMs that died without closing their server.
 */
final class HostDirectories {
    private HostDirectories() {
    }

    /** Hosted servers' private directories: {@code gatun-host-<pid>-<random>}. */
    static final String PREFIX = "gatun-host-";

    /**
     * Removes the socket directories of hosting JVMs that died without
     * closing their server (a {@code kill -9}): the next host cleans up.
     * Only directories named for a process that no longer runs, and only
     * what this user may delete.
     */
    static void sweepDead(Path tmp) {
        try (var dirs = Files.newDirectoryStream(tmp, PREFIX + "*")) {
            for (Path dir : dirs) {
                String[] parts = dir.getFileName().toString().substring(PREFIX.length()).split("-", 2);
                long pid;
                try {
                    pid = Long.parseLong(parts[0]);
                } catch (NumberFormatException e) {
                    continue; // not one of ours
                }
                if (parts.length < 2 || running(pid)) {
                    continue;
                }
                try (var entries = Files.newDirectoryStream(dir)) {
                    for (Path entry : entries) {
                        Files.deleteIfExists(entry);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException e) {
                    // another user's, or being swept by another host: leave it
                }
            }
        } catch (IOException e) {
            // no temp directory to sweep
        }
    }

    /** Whether process {@code pid} runs (a zombie nobody reaped does not). */
    private static boolean running(long pid) {
        Path stat = Path.of("/proc", Long.toString(pid), "stat");
        if (Files.isDirectory(Path.of("/proc/self"))) {
            try {
                String s = Files.readString(stat);
                return s.charAt(s.lastIndexOf(')') + 2) != 'Z';
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
}
