package gatun.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The private directory an attached Python hands its segments over in
 * ({@code gatun-py-<pid>-<hex>}, files of mode 0600). Python removes it when
 * it closes; a Python killed with {@code -9} cannot, so when such a session
 * ends the server removes it once that pid is gone.
 */
final class PythonSegmentDirectory {
    private static final Pattern NAME = Pattern.compile("gatun-py-([1-9][0-9]{0,9})-[0-9a-f]+");

    private PythonSegmentDirectory() {
    }

    /**
     * Removes the directory holding {@code controlFile} (its regular files,
     * then itself) if it is named {@code gatun-py-<pid>-<hex>}, belongs to
     * this JVM's user and that pid is no longer running. Anything else is
     * left alone; failures are ignored (best effort).
     *
     * @param controlFile the session's control segment file
     * @return whether the directory was removed
     */
    static boolean removeIfOrphaned(Path controlFile) {
        Path dir = controlFile.toAbsolutePath().getParent();
        if (dir == null || dir.getFileName() == null) {
            return false;
        }
        Matcher m = NAME.matcher(dir.getFileName().toString());
        if (!m.matches()) {
            return false;
        }
        long pid = Long.parseLong(m.group(1));
        if (isRunning(pid)) {
            return false; // Python is alive: it removes its directory itself
        }
        try {
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
                    || !Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName()
                            .equals(System.getProperty("user.name"))) {
                return false;
            }
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
                for (Path e : entries) {
                    if (Files.isRegularFile(e, LinkOption.NOFOLLOW_LINKS)) {
                        Files.deleteIfExists(e);
                    }
                }
            }
            Files.deleteIfExists(dir);
            return true;
        } catch (IOException | SecurityException e) {
            return false; // a subdirectory, a race with Python's own cleanup: leave it
        }
    }

    /** @return whether {@code pid} runs; a zombie (exited, not yet reaped) does not */
    static boolean isRunning(long pid) {
        Optional<ProcessHandle> h = ProcessHandle.of(pid);
        if (h.isEmpty() || !h.get().isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"), StandardCharsets.US_ASCII);
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException | RuntimeException e) {
            return true; // cannot tell: assume alive, never delete a live Python's files
        }
    }
}
