package gatun.server;

import gatun.server.arrow.ArrowWarmup;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * A server the Python launcher started ({@code connect()}, {@code launch_gateway()}):
 * the command line, the session token read from the first stdin line (never
 * argv or the environment), and the stdin watcher whose EOF (Python gone)
 * closes the server and halts the JVM.
 */
final class LaunchedServer {
    private LaunchedServer() {
    }

    /**
     * Runs a launched server: reads the token, listens, and watches stdin.
     *
     * @param args {@code --socket PATH [--exit-on-close] [--connection-file PATH]}
     */
    static void run(String[] args) {
        final String usage = "usage: GatunServer --socket PATH [--exit-on-close] [--connection-file PATH]";
        Path socket = null;
        Path connectionFile = null;
        boolean exitOnClose = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--socket") && i + 1 < args.length) {
                socket = Path.of(args[++i]);
            } else if (args[i].equals("--exit-on-close")) {
                exitOnClose = true;
            } else if (args[i].equals("--connection-file") && i + 1 < args.length) {
                connectionFile = Path.of(args[++i]);
            } else {
                fail("unknown argument " + args[i] + "; " + usage);
            }
        }
        if (socket == null) {
            fail("missing --socket PATH; " + usage);
        }
        byte[] token;
        try {
            token = readToken(System.in);
        } catch (IOException | IllegalArgumentException e) {
            fail("expected the session token (32 lowercase hex characters) as the first stdin line: "
                    + e.getMessage());
            return;
        }
        GatunServer server = new GatunServer(socket, token, exitOnClose);
        String entryClass = System.getProperty(EntryPoints.PROPERTY);
        if (entryClass != null) {
            try {
                server.offerEntryPoint(EntryPoints.create(entryClass, server.policy()));
            } catch (RuntimeException | LinkageError e) {
                fail("cannot make the entry point (-D" + EntryPoints.PROPERTY + "=" + entryClass + "): "
                        + e.getMessage());
            }
        }
        try {
            server.start();
        } catch (IOException e) {
            fail("cannot listen on " + socket + ": " + e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "gatun-shutdown"));
        if (connectionFile != null) {
            // A gateway (Python's launch_gateway): other processes attach with it.
            try {
                server.writeConnectionFile(connectionFile);
            } catch (IOException e) {
                fail("cannot write the connection file " + connectionFile + ": " + e);
            }
        }
        Thread watcher = new Thread(() -> watchStdin(System.in, server), "gatun-stdin");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static void fail(String message) {
        System.err.println("gatun: " + message); // before logging is set up; the launcher reads it
        System.exit(2);
    }

    /** Reads the first stdin line: exactly 32 lowercase hex characters. */
    static byte[] readToken(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("stdin closed before the token line ended");
            }
            if (c == '\n') {
                break;
            }
            if (sb.length() > 64) {
                throw new IllegalArgumentException("token line is too long");
            }
            sb.append((char) c);
        }
        String line = sb.toString().strip();
        if (!line.matches("[0-9a-f]{32}")) {
            throw new IllegalArgumentException("token line is not 32 lowercase hex characters");
        }
        return HexFormat.of().parseHex(line);
    }

    /** Longest wait for the Arrow warm-up before a recording JVM exits. */
    private static final long RECORDING_WAIT_MILLIS = 5_000;

    /**
     * A JVM started with {@code -Dgatun.cds.recording=true} records, as it
     * exits, the class archive later sessions map (the Python launcher's
     * AppCDS). Before exiting it runs the Arrow warm-up, or lets a running one
     * finish, so the archive holds those classes even after a session that
     * ended before the warm-up started.
     */
    static void awaitWarmupIfRecording() {
        if (!Boolean.getBoolean("gatun.cds.recording")) {
            return;
        }
        try {
            ArrowWarmup.runOrAwait(RECORDING_WAIT_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // exit anyway
        }
    }

    /** Blocks reading stdin; on EOF closes the server (and its socket file) and halts the JVM. */
    private static void watchStdin(InputStream in, GatunServer server) {
        byte[] buf = new byte[256];
        try {
            while (in.read(buf) >= 0) {
                // discard: stdin only signals that Python is alive
            }
        } catch (IOException e) {
            // treat as EOF
        }
        // Closing the sockets first wakes the threads blocked on them. HotSpot's
        // exit waits up to 300 ms for threads still in native code, and the accept
        // and lane I/O threads always are: half of all close() calls took ~350 ms.
        try {
            server.close(); // also deletes the socket file
        } catch (RuntimeException e) {
            // best effort: exiting anyway
        }
        awaitWarmupIfRecording();
        Runtime.getRuntime().halt(0);
    }
}
