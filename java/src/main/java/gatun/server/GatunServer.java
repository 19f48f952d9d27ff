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
import java.nio.ByteBuffer;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
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
 * java --add-opens=java.base/java.nio=ALL-UNNAMED [user options] \
 *      -cp gatun-server.jar[:user classpath] gatun.server.GatunServer --socket PATH [--exit-on-close] \
 *      [--connection-file PATH]
 * </pre>
 * The first stdin line is the session token (32 lowercase hex characters); stdin
 * is then watched and its EOF halts the JVM. The token never travels in argv or
 * the environment.
 *
 * <p><b>Hosted in any JVM</b> (a Spark driver, an application with an entry
 * point), for Python to attach to with {@code gatun.attach(...)}:
 * <pre>{@code
 * GatunServer server = GatunServer.startHosted();            // private 0700 directory, random token
 * server.writeConnectionFile(Path.of("/run/app/gatun.conn")); // 0600: socket=... and token=...
 * // Python: client = gatun.attach(connection_file="/run/app/gatun.conn")
 * ...
 * server.close();                                            // or let the JVM exit
 * }</pre>
 * A Python session that closes or dies ends only that session, never the
 * server or the JVM; sessions are isolated from each other (an object id of
 * one is unknown in another). The server's threads are daemons, so it never
 * keeps the JVM alive by itself ({@link #awaitClosed()} waits for it).
 *
 * <p><b>Handshake.</b> Connections that have not sent their Hello are read by
 * one thread ({@link PendingHandshakes}), each with a deadline
 * ({@code -Dgatun.handshake.timeoutMillis}, 10 s) and at most
 * {@code -Dgatun.handshake.maxPending} (1,024) waiting at once.
 */
public final class GatunServer implements AutoCloseable {
    /** Default deadline for a connection's Hello. */
    static final long DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;
    /** Default cap on connections waiting for their Hello. */
    static final int DEFAULT_MAX_PENDING_HANDSHAKES = 1024;

    private final Path socketPath;
    private final byte[] token;
    private final boolean exitOnClose;
    private final long handshakeTimeoutMillis;
    private final int maxPendingHandshakes;
    /** Daemon threads only: a hosted server never keeps its host JVM alive. */
    private boolean daemon;
    /** The private directory {@link #startHosted()} made; removed by {@link #close()}. */
    private Path ownedDirectory;
    private Thread shutdownHook;
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile PendingHandshakes handshakes;
    private final ConcurrentHashMap<Long, Session> sessions = new ConcurrentHashMap<>();
    private final ClassPolicy policy = new ClassPolicy();
    private final MethodResolver resolver = new MethodResolver(policy);
    private final Metrics metrics = new Metrics();
    /** Every session's limits, from the {@code gatun.limits.*} system properties; a session may lower its own. */
    private final gatun.server.limits.Limits limits = gatun.server.limits.Limits.fromSystemProperties();
    private final SecureRandom random = new SecureRandom();
    private volatile ServerSocketChannel server;
    private volatile boolean closing;
    /** What Python reaches as {@code client.entry_point}; null when none was given. */
    private volatile Object entryPoint;

    /**
     * A server that is not yet listening: {@link #start()} binds the socket.
     * {@link #main} builds one this way for a JVM that Python launched; code
     * hosting a server in its own JVM calls {@link #startHosted()} instead,
     * which also makes a private directory, a random token and daemon threads.
     *
     * @param socketPath where to bind the Unix socket
     * @param token the 16-byte session token every lane must present
     * @param exitOnClose exit the JVM when the last session ends
     */
    public GatunServer(Path socketPath, byte[] token, boolean exitOnClose) {
        this(socketPath, token, exitOnClose,
                Long.getLong("gatun.handshake.timeoutMillis", DEFAULT_HANDSHAKE_TIMEOUT_MILLIS),
                Integer.getInteger("gatun.handshake.maxPending", DEFAULT_MAX_PENDING_HANDSHAKES));
    }

    /** As above, with explicit handshake limits (tests). */
    GatunServer(Path socketPath, byte[] token, boolean exitOnClose, long handshakeTimeoutMillis,
                int maxPendingHandshakes) {
        if (token.length != 16) {
            throw new IllegalArgumentException("session token must be 16 bytes, got " + token.length);
        }
        if (handshakeTimeoutMillis <= 0) {
            throw new IllegalArgumentException("gatun.handshake.timeoutMillis must be positive, got "
                    + handshakeTimeoutMillis);
        }
        if (maxPendingHandshakes <= 0) {
            throw new IllegalArgumentException("gatun.handshake.maxPending must be positive, got "
                    + maxPendingHandshakes);
        }
        this.socketPath = socketPath;
        this.token = token.clone();
        this.exitOnClose = exitOnClose;
        this.handshakeTimeoutMillis = handshakeTimeoutMillis;
        this.maxPendingHandshakes = maxPendingHandshakes;
    }

    /**
     * Command-line entry point of a launched server; see the class
     * documentation and {@link LaunchedServer}.
     *
     * @param args {@code --socket PATH [--exit-on-close] [--connection-file PATH]}
     */
    public static void main(String[] args) {
        LaunchedServer.run(args);
    }

    /** Offers {@code entryPoint} as {@code client.entry_point}; before {@link #start()}, so no session sees it unset. */
    void offerEntryPoint(Object entryPoint) {
        this.entryPoint = entryPoint;
    }

    // ------------------------------------------------------------- hosting

    /**
     * Starts a server inside this JVM on a socket in a new private directory
     * (mode 0700, under {@code java.io.tmpdir}) with a random token. Python
     * attaches with the socket path and token ({@link #socketPath()},
     * {@link #tokenHex()}, or the file {@link #writeConnectionFile(Path)}
     * writes). The server never exits the JVM; it stops on {@link #close()}
     * or when the JVM exits (a shutdown hook), removing the socket and the
     * directory.
     *
     * <pre>{@code
     * try (GatunServer server = GatunServer.startHosted()) {
     *     server.writeConnectionFile(Path.of("gatun.conn"));
     *     server.awaitClosed();
     * }
     * }</pre>
     *
     * @return the running server
     * @throws IOException if the directory or socket cannot be created
     * @throws IllegalStateException if Arrow Java cannot reach native memory here
     *         (the message names the missing {@code --add-opens} flag)
     */
    public static GatunServer startHosted() throws IOException {
        return startHosted((Object) null);
    }

    /**
     * As {@link #startHosted()}, offering Python {@code entryPoint} as
     * {@code client.entry_point} (Py4J's {@code new GatewayServer(entryPoint)}):
     * <pre>{@code
     * GatunServer server = GatunServer.startHosted(new OnDemandApp());
     * server.writeConnectionFile(Path.of("gatun.conn"));
     * // Python: gatun.attach(connection_file="gatun.conn").entry_point.run(request)
     * }</pre>
     *
     * @param entryPoint the object every Python session of this server reaches
     *        as {@code client.entry_point}; null for none
     * @return the running server
     * @throws IOException if the directory or socket cannot be created
     */
    public static GatunServer startHosted(Object entryPoint) throws IOException {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        HostDirectories.sweepDead(tmp);
        Path dir = Files.createTempDirectory(tmp, HostDirectories.PREFIX + ProcessHandle.current().pid() + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        byte[] token = new byte[16];
        new SecureRandom().nextBytes(token);
        try {
            return startHosted(dir.resolve("s"), token, dir, entryPoint);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(dir);
            throw e;
        }
    }

    /**
     * As {@link #startHosted(String, String)}, offering Python
     * {@code entryPoint} as {@code client.entry_point}.
     *
     * @param socketPath where to bind the Unix socket; must not exist, its parent must be a directory
     * @param tokenHex the session token: 32 hexadecimal characters (16 bytes)
     * @param entryPoint the object Python reaches as {@code client.entry_point}; null for none
     * @return the running server
     * @throws IOException if the path exists, its parent is not a directory, or binding fails
     */
    public static GatunServer startHosted(String socketPath, String tokenHex, Object entryPoint)
            throws IOException {
        if (tokenHex == null || tokenHex.length() != 32 || !tokenHex.matches("[0-9a-fA-F]{32}")) {
            throw new IllegalArgumentException("tokenHex must be 32 hexadecimal characters (16 bytes), got "
                    + (tokenHex == null ? "null" : tokenHex.length() + " characters"
                    + (tokenHex.matches("[0-9a-fA-F]*") ? "" : " with non-hex ones")));
        }
        if (socketPath == null || socketPath.isBlank()) {
            throw new IllegalArgumentException("socketPath must name a file to create, got "
                    + (socketPath == null ? "null" : "\"" + socketPath + "\""));
        }
        Path path = Path.of(socketPath).toAbsolutePath();
        byte[] token = HexFormat.of().parseHex(tokenHex.toLowerCase(java.util.Locale.ROOT));
        return startHosted(path, token, null, entryPoint);
    }

    /**
     * The entry point this server was started with: the object every Python
     * session reaches as {@code client.entry_point}, shared by all sessions.
     *
     * @return the entry point, or null when none was given
     */
    public Object entryPoint() {
        return entryPoint;
    }

    /**
     * The entry point of the server whose Python request the calling thread
     * serves: what {@code client.entry_point} returns (called by Python).
     *
     * @return that server's entry point, or null if it has none or the thread serves no request
     */
    public static Object currentEntryPoint() {
        Session s = Lane.currentSession();
        return s != null ? s.server().entryPoint : null;
    }

    /**
     * Upstream's helper for long-running Java code: whether Python cancelled
     * the call the calling thread serves ({@code client.cancel(request_id)},
     * Ctrl-C, a cancelled asyncio task). Stays true after the thread's
     * interrupt was consumed.
     *
     * @return true once the current call is cancelled; false on a thread serving no call
     */
    public static boolean isCancelled() {
        return Lane.currentRequestCancelled();
    }

    /**
     * Upstream's helper: throws if Python cancelled the call the calling thread serves.
     *
     * @throws InterruptedException if it was cancelled
     */
    public static void checkCancelled() throws InterruptedException {
        if (Lane.currentRequestCancelled()) {
            throw new InterruptedException("the Python call was cancelled");
        }
    }

    /**
     * Starts a server inside this JVM on {@code socketPath} with a token the
     * caller chose (PySpark's attach: Python picks both and hands them over
     * through py4j). Otherwise as {@link #startHosted()}; the socket's
     * directory is the caller's and stays.
     *
     * @param socketPath where to bind the Unix socket; must not exist, its parent must be a directory
     * @param tokenHex the session token: 32 hexadecimal characters (16 bytes)
     * @return the running server
     * @throws IllegalArgumentException if the token is not 32 hex characters or the path is empty
     * @throws IOException if the path exists, its parent is not a directory, or binding fails
     * @throws IllegalStateException if Arrow Java cannot reach native memory here
     */
    public static GatunServer startHosted(String socketPath, String tokenHex) throws IOException {
        return startHosted(socketPath, tokenHex, null);
    }

    private static GatunServer startHosted(Path path, byte[] token, Path ownedDirectory, Object entryPoint)
            throws IOException {
        String arrow = gatun.server.arrow.ArrowAccess.problem();
        if (arrow != null) {
            throw new IllegalStateException("cannot host the gatun server: " + arrow);
        }
        Path parent = path.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new NotDirectoryException("cannot create the gatun socket " + path + ": its parent " + parent
                    + " is not a directory");
        }
        if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(path.toString(), null,
                    "the gatun socket path already exists; pass a path that does not");
        }
        GatunServer server = new GatunServer(path, token, false);
        server.entryPoint = entryPoint; // before start: no session can see it unset
        server.daemon = true;
        server.ownedDirectory = ownedDirectory;
        server.start();
        Thread hook = new Thread(server::close, "gatun-hosted-shutdown");
        server.shutdownHook = hook;
        Runtime.getRuntime().addShutdownHook(hook);
        return server;
    }

    /**
     * The token a Python client must present to connect, for handing to
     * {@code gatun.attach(socket, token)} when no connection file is written.
     * It is a secret: a process of this user that has it can run code in this
     * JVM through the socket.
     *
     * @return the session token as 32 lowercase hex characters
     */
    public String tokenHex() {
        return HexFormat.of().formatHex(token);
    }

    /**
     * Writes the socket path and token for {@code gatun.attach(connection_file=...)}:
     * a file of mode 0600 with the lines {@code socket=<path>} and
     * {@code token=<32 hex>}. The file is written beside itself and renamed
     * into place, so a reader never sees half of it; an existing file is replaced.
     *
     * @param file where to write it
     * @return {@code file}
     * @throws IOException if it cannot be written
     */
    public Path writeConnectionFile(Path file) throws IOException {
        Path target = file.toAbsolutePath();
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName() + ".", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.writeString(tmp, "socket=" + socketPath.toAbsolutePath() + "\ntoken=" + tokenHex() + "\n",
                    StandardCharsets.UTF_8);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return file;
    }

    /**
     * Binds the socket and starts accepting connections.
     *
     * @throws IOException if the socket cannot be bound
     */
    public void start() throws IOException {
        PendingHandshakes pending = new PendingHandshakes(new PendingHandshakes.Handler() {
            @Override
            public void hello(SocketChannel channel, ByteBuffer frame) {
                handshake(channel, frame);
            }

            @Override
            public void refuse(SocketChannel channel, String reason) {
                GatunServer.this.refuse(channel, reason);
            }
        }, handshakeTimeoutMillis, maxPendingHandshakes);
        try {
            server = bindListening(socketPath);
        } catch (IOException | RuntimeException e) {
            pending.close();
            pending.start(); // lets the thread close the selector
            throw e;
        }
        handshakes = pending;
        pending.start();
        Thread accept = new Thread(this::acceptLoop, "gatun-accept");
        accept.setDaemon(daemon);
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
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
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

    /**
     * Stops accepting, refuses connections still in their handshake, ends every
     * session and deletes the socket file (and the directory
     * {@link #startHosted()} made). Does not exit the JVM. Idempotent.
     */
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
        PendingHandshakes pending = handshakes;
        if (pending != null) {
            pending.close();
        }
        for (Session s : sessions.values()) {
            s.end("server closing", Doorbell.GOODBYE_STOPPED);
        }
        // A session whose own end was already under way (its socket's EOF)
        // returned from end() at once and leaves the map from its own thread
        // later: once closed, the server has no live sessions, now.
        sessions.clear();
        try {
            Files.deleteIfExists(socketPath);
            if (ownedDirectory != null) {
                Files.deleteIfExists(ownedDirectory.resolve("." + socketPath.getFileName() + ".tmp"));
                Files.deleteIfExists(ownedDirectory);
            }
        } catch (IOException e) {
            // best effort
        }
        Thread hook = shutdownHook;
        if (hook != null && Thread.currentThread() != hook) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down: the hook runs close() again, harmlessly
            }
        }
        closed.countDown();
    }

    /**
     * Waits until {@link #close()} has run (by the host's code or the JVM's
     * shutdown hook): for an application whose only work is serving Python.
     *
     * @throws InterruptedException if interrupted while waiting
     */
    public void awaitClosed() throws InterruptedException {
        closed.await();
    }

    /** @return connections accepted that have not yet sent a whole Hello (tests) */
    int pendingHandshakes() {
        PendingHandshakes pending = handshakes;
        return pending == null ? 0 : pending.waiting();
    }

    /**
     * Counts the Python sessions attached now (one per client, whatever its
     * number of lanes), so a host can tell when the last one has gone.
     *
     * @return sessions currently live
     */
    public long liveSessions() {
        return sessions.size();
    }

    MethodResolver resolver() {
        return resolver;
    }

    ClassPolicy policy() {
        return policy;
    }

    /** @return the limits every session starts with */
    gatun.server.limits.Limits limits() {
        return limits;
    }

    Metrics metrics() {
        return metrics;
    }

    void sessionEnded(Session s, String reason) {
        sessions.remove(s.id(), s);
        if (s.controlFile() != null) {
            PythonSegmentDirectory.removeIfOrphaned(s.controlFile());
        }
        if (exitOnClose && !closing && sessions.isEmpty()) {
            Thread t = new Thread(() -> {
                LaunchedServer.awaitWarmupIfRecording();
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
                    ServerLog.LOG.warning("accept failed: " + e);
                }
                return;
            }
            // The peer check is one getsockopt: done here, so a stranger never
            // occupies a place among the pending handshakes.
            String peerProblem = checkPeer(conn);
            if (peerProblem != null) {
                ServerLog.LOG.warning("refused connection: " + peerProblem);
                refuse(conn, peerProblem);
                continue;
            }
            handshakes.add(conn);
        }
    }

    // ------------------------------------------------------------- handshake

    /** Runs on the handshake thread with the Hello frame read; {@code conn} is blocking again. */
    private void handshake(SocketChannel conn, ByteBuffer frame) {
        Lane lane;
        try {
            HelloFields hello;
            try {
                hello = new HelloFields(Hello.getRootAsHello(frame));
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
                ServerLog.LOG.warning("refused connection: bad token");
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
            ServerLog.LOG.warning("handshake failed: " + e);
            closeQuietly(conn);
        } catch (LinkageError e) {
            // A class that cannot initialise here (Arrow without its
            // --add-opens): refuse with the reason rather than leave the
            // client waiting for a Welcome until its timeout.
            String arrow = gatun.server.arrow.ArrowAccess.problem();
            String reason = arrow != null ? arrow : "the session could not start: " + e;
            ServerLog.LOG.warning("handshake failed: " + reason);
            refuse(conn, reason);
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
        s = new Session(id, seg, this, (int) callbackLanes, fd >= 0 ? null : path);
        ServerLog.SESSIONS.log(java.util.logging.Level.FINE, "session {0} started: Python pid {1}, {2} lanes",
                new Object[] {Long.toUnsignedString(id, 16), String.valueOf(hello.pid), String.valueOf(lanes)});
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

    /**
     * Answers with a Welcome naming {@code error} and closes. On a non-blocking
     * channel (a handshake that timed out) the Welcome is one write attempt:
     * a frame this small always fits an unused socket buffer, and a peer
     * must never hold the handshake thread.
     */
    private void refuse(SocketChannel conn, String error) {
        try {
            ByteBuffer frame = Frames.frame(welcomePayload(0, error));
            if (conn.isBlocking()) {
                Frames.writeFully(conn, frame);
            } else {
                conn.write(frame);
            }
        } catch (IOException | RuntimeException e) {
            // the peer is gone anyway
        }
        closeQuietly(conn);
    }

    private static void welcome(SocketChannel conn, long sessionId, String error) throws IOException {
        Frames.write(conn, welcomePayload(sessionId, error));
    }

    private static ByteBuffer welcomePayload(long sessionId, String error) {
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
        return b.dataBuffer();
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

    /**
     * The Unix socket Python connects to, for handing to
     * {@code gatun.attach(socket, token)} together with {@link #tokenHex()}.
     *
     * @return the bound socket path
     */
    public Path socketPath() {
        return socketPath;
    }

}
