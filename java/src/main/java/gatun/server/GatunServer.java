package gatun.server;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Hello;
import gatun.protocol.ProtocolVersion;
import gatun.protocol.Welcome;
import gatun.server.arrow.ArrowWarmup;
import gatun.server.reflect.ClassPolicy;
import gatun.server.reflect.MethodResolver;
import gatun.server.shm.ControlSegment;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * The gatun bridge server: listens on a Unix socket, authenticates each lane
 * connection (protocol version, session token compared in constant time, peer
 * user via {@code SO_PEERCRED}), maps the control segment for lane 0 and serves
 * requests on every lane.
 *
 * <p>Launched by the Rust core as
 * <pre>
 * java --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED \
 *      --add-opens=java.base/java.util=ALL-UNNAMED [user options] \
 *      -cp gatun-server.jar[:user classpath] gatun.server.GatunServer --socket PATH [--exit-on-close]
 * </pre>
 * The first stdin line is the session token (32 lowercase hex characters); stdin
 * is then watched and its EOF halts the JVM. The token never travels in argv or
 * the environment.
 *
 * <p>In-process use (tests, attach mode): {@code new GatunServer(path, token, false).start()}.
 */
public final class GatunServer implements AutoCloseable {
    private final Path socketPath;
    private final byte[] token;
    private final boolean exitOnClose;
    private final ConcurrentHashMap<Long, Session> sessions = new ConcurrentHashMap<>();
    private final ClassPolicy policy = new ClassPolicy();
    private final MethodResolver resolver = new MethodResolver(policy);
    private final Metrics metrics = new Metrics();
    private final SecureRandom random = new SecureRandom();
    private volatile ServerSocketChannel server;
    private volatile boolean closing;

    /**
     * @param socketPath where to bind the Unix socket
     * @param token the 16-byte session token every lane must present
     * @param exitOnClose exit the JVM when the last session ends
     */
    public GatunServer(Path socketPath, byte[] token, boolean exitOnClose) {
        if (token.length != 16) {
            throw new IllegalArgumentException("session token must be 16 bytes, got " + token.length);
        }
        this.socketPath = socketPath;
        this.token = token.clone();
        this.exitOnClose = exitOnClose;
    }

    /**
     * Command-line entry point; see the class documentation.
     *
     * @param args {@code --socket PATH [--exit-on-close]}
     */
    public static void main(String[] args) {
        Path socket = null;
        boolean exitOnClose = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--socket") && i + 1 < args.length) {
                socket = Path.of(args[++i]);
            } else if (args[i].equals("--exit-on-close")) {
                exitOnClose = true;
            } else {
                fail("unknown argument " + args[i] + "; usage: GatunServer --socket PATH [--exit-on-close]");
            }
        }
        if (socket == null) {
            fail("missing --socket PATH; usage: GatunServer --socket PATH [--exit-on-close]");
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
        try {
            server.start();
        } catch (IOException e) {
            fail("cannot listen on " + socket + ": " + e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "gatun-shutdown"));
        Thread watcher = new Thread(() -> watchStdin(System.in, server), "gatun-stdin");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static void fail(String message) {
        System.err.println("gatun: " + message);
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
    private static void awaitWarmupIfRecording() {
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

    /**
     * Binds the socket and starts accepting connections.
     *
     * @throws IOException if the socket cannot be bound
     */
    public void start() throws IOException {
        server = bindListening(socketPath);
        Thread accept = new Thread(this::acceptLoop, "gatun-accept");
        accept.start();
    }

    /**
     * Binds and listens under a temporary name, then renames the socket into place,
     * so a client that sees the file never gets "connection refused". Falls back to
     * binding the path directly (e.g. when the temporary name would be too long).
     */
    private static ServerSocketChannel bindListening(Path path) throws IOException {
        Path tmp = path.resolveSibling("." + path.getFileName() + ".tmp");
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(tmp));
            Files.move(tmp, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(tmp);
        }
        ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(path));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return ch;
    }

    /** Stops accepting, ends every session and deletes the socket file. Does not exit the JVM. */
    @Override
    public void close() {
        closing = true;
        ServerSocketChannel ch = server;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                // already closed
            }
        }
        for (Session s : sessions.values()) {
            s.end("server closing");
        }
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException e) {
            // best effort
        }
    }

    /** @return sessions currently live */
    public long liveSessions() {
        return sessions.size();
    }

    MethodResolver resolver() {
        return resolver;
    }

    ClassPolicy policy() {
        return policy;
    }

    Metrics metrics() {
        return metrics;
    }

    void sessionEnded(Session s, String reason) {
        sessions.remove(s.id(), s);
        if (exitOnClose && !closing && sessions.isEmpty()) {
            Thread t = new Thread(() -> {
                awaitWarmupIfRecording();
                System.exit(0);
            }, "gatun-exit");
            t.start();
        }
    }

    private void acceptLoop() {
        ServerSocketChannel ch = server;
        while (!closing) {
            SocketChannel conn;
            try {
                conn = ch.accept();
            } catch (IOException e) {
                if (!closing) {
                    System.err.println("gatun: accept failed: " + e);
                }
                return;
            }
            Thread t = new Thread(() -> handshake(conn), "gatun-handshake");
            t.setDaemon(true);
            t.start();
        }
    }

    // ------------------------------------------------------------- handshake

    private void handshake(SocketChannel conn) {
        Lane lane;
        try {
            String peerProblem = checkPeer(conn);
            if (peerProblem != null) {
                System.err.println("gatun: refused connection: " + peerProblem);
                refuse(conn, peerProblem);
                return;
            }
            HelloFields hello;
            try {
                hello = new HelloFields(Hello.getRootAsHello(Frames.read(conn)));
            } catch (IOException e) {
                throw e;
            } catch (RuntimeException e) {
                refuse(conn, "malformed Hello: " + e);
                return;
            }
            long version = hello.protocolVersion;
            long laneIndex = hello.laneIndex;
            byte[] presented = hello.token;
            if (version != ProtocolVersion.Current) {
                refuse(conn, "protocol version mismatch: client speaks " + version + ", server speaks "
                        + ProtocolVersion.Current);
                return;
            }
            if (!MessageDigest.isEqual(presented, token)) {
                System.err.println("gatun: refused connection: bad token");
                refuse(conn, "bad token");
                return;
            }
            Session session;
            if (laneIndex == 0) {
                session = createSession(conn, hello);
                if (session == null) {
                    return;
                }
            } else {
                long sid = hello.sessionId;
                session = sessions.get(sid);
                if (session == null) {
                    refuse(conn, "unknown session " + Long.toUnsignedString(sid));
                    return;
                }
            }
            lane = session.attach((int) Math.min(laneIndex, Integer.MAX_VALUE), conn);
            if (lane == null) {
                refuse(conn, "lane " + laneIndex + " is out of range (0.." + (session.laneCount() - 1)
                        + ") or already connected");
                if (laneIndex == 0) {
                    session.end("lane 0 refused");
                }
                return;
            }
            try {
                welcome(conn, session.id(), null);
            } catch (IOException e) {
                session.end("lane " + laneIndex + " handshake failed: " + e);
                throw e;
            }
            lane.start();
            if (session.allLanesAttached()) {
                // After connect, not during it: on two cores a warm-up beside
                // the handshake doubled connect() time.
                ArrowWarmup.startInBackground();
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("gatun: handshake failed: " + e);
            closeQuietly(conn);
        }
    }

    private Session createSession(SocketChannel conn, HelloFields hello) throws IOException {
        long lanes = hello.laneCount;
        if (lanes < 1 || lanes > ControlSegment.MAX_LANES) {
            refuse(conn, "lane count " + lanes + " is outside 1.." + ControlSegment.MAX_LANES);
            return null;
        }
        long callbackLanes = hello.callbackLanes;
        if (callbackLanes >= lanes) {
            refuse(conn, callbackLanes + " callback lanes leave no call lane among " + lanes + " lanes");
            return null;
        }
        Path path;
        int fd = hello.controlFd;
        if (fd >= 0) {
            if (hello.pid <= 0) {
                refuse(conn, "control_fd " + fd + " given without a valid pid");
                return null;
            }
            path = Path.of("/proc/" + hello.pid + "/fd/" + fd);
        } else {
            String p = hello.controlPath;
            if (p == null || p.isEmpty()) {
                refuse(conn, "Hello for lane 0 names neither control_fd nor control_path");
                return null;
            }
            path = Path.of(p);
        }
        ControlSegment seg;
        try {
            seg = ControlSegment.map(path, hello.controlSize);
            seg.validate((int) lanes);
        } catch (IOException | IllegalArgumentException e) {
            refuse(conn, "cannot use the control segment: " + e.getMessage());
            return null;
        }
        seg.setJvmPid((int) ProcessHandle.current().pid());
        seg.setJvmStartTime(startTime());
        long id;
        Session s;
        do {
            id = random.nextLong();
        } while (id == 0 || sessions.containsKey(id));
        s = new Session(id, seg, this, (int) callbackLanes);
        sessions.put(id, s);
        metrics.sessionsStarted.incrementAndGet();
        return s;
    }

    /** Every Hello field, read once inside the decoding guard. */
    private static final class HelloFields {
        final long protocolVersion;
        final byte[] token;
        final int pid;
        final long laneIndex;
        final long laneCount;
        final int controlFd;
        final String controlPath;
        final long controlSize;
        final long sessionId;
        final long callbackLanes;

        HelloFields(Hello h) {
            protocolVersion = h.protocolVersion();
            int n = h.tokenLength();
            if (n < 0 || n > Frames.MAX_FRAME) {
                throw new IllegalArgumentException("token length " + n);
            }
            token = new byte[n];
            for (int i = 0; i < n; i++) {
                token[i] = (byte) h.token(i);
            }
            pid = h.pid();
            laneIndex = h.laneIndex();
            laneCount = h.laneCount();
            controlFd = h.controlFd();
            controlPath = h.controlPath();
            controlSize = h.controlSize();
            sessionId = h.sessionId();
            callbackLanes = h.callbackLanes();
        }
    }

    /** @return null if the peer runs as this JVM's user, else what is wrong */
    private String checkPeer(SocketChannel conn) {
        try {
            UnixDomainPrincipal p = conn.getOption(ExtendedSocketOptions.SO_PEERCRED);
            String peer = p.user().getName();
            if (peer.equals(System.getProperty("user.name"))) {
                return null;
            }
            Path dir = socketPath.toAbsolutePath().getParent();
            if (dir != null && peer.equals(Files.getOwner(dir).getName())) {
                return null;
            }
            return "peer user " + peer + " is not the JVM's user " + System.getProperty("user.name");
        } catch (IOException | UnsupportedOperationException e) {
            return "cannot read peer credentials: " + e;
        }
    }

    private void refuse(SocketChannel conn, String error) {
        try {
            welcome(conn, 0, error);
        } catch (IOException e) {
            // the peer is gone anyway
        }
        closeQuietly(conn);
    }

    private static void welcome(SocketChannel conn, long sessionId, String error) throws IOException {
        FlatBufferBuilder b = new FlatBufferBuilder(256);
        int err = error == null ? 0 : b.createString(error);
        Welcome.startWelcome(b);
        Welcome.addProtocolVersion(b, ProtocolVersion.Current);
        Welcome.addPid(b, (int) ProcessHandle.current().pid());
        Welcome.addSessionId(b, sessionId);
        if (error != null) {
            Welcome.addError(b, err);
        }
        b.finish(Welcome.endWelcome(b));
        Frames.write(conn, b.dataBuffer());
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException e) {
            // ignore
        }
    }

    /** Field 22 of /proc/self/stat (start time in clock ticks), 0 if unreadable. */
    static long startTime() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"), StandardCharsets.US_ASCII);
            String rest = stat.substring(stat.lastIndexOf(')') + 2);
            String[] f = rest.split(" ");
            return Long.parseLong(f[22 - 3]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** @return the bound socket path */
    public Path socketPath() {
        return socketPath;
    }

}
