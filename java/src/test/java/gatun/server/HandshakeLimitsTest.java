package gatun.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import gatun.protocol.ProtocolVersion;
import gatun.protocol.Welcome;
import gatun.server.shm.ControlSegment;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Connections that never finish their handshake: bounded threads, a deadline
 * for each, a cap on how many wait, and real clients served meanwhile.
 */
@Timeout(60)
class HandshakeLimitsTest {
    private static final int LANES = 1;
    private static final int SLOT = 4096;
    private final byte[] token = new byte[16];
    private Path dir;
    private Path socket;
    private GatunServer server;
    private int controls;
    private final List<SocketChannel> clients = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        new Random().nextBytes(token);
        dir = Files.createTempDirectory("gatun-hs", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        socket = dir.resolve("s");
    }

    @AfterEach
    void tearDown() throws IOException {
        for (SocketChannel c : clients) {
            c.close();
        }
        if (server != null) {
            server.close();
        }
        for (int i = 0; i < controls; i++) {
            Files.deleteIfExists(dir.resolve("control" + i));
        }
        Files.deleteIfExists(socket);
        Files.deleteIfExists(dir);
    }

    private void start(long timeoutMillis, int maxPending) throws IOException {
        server = new GatunServer(socket, token, false, timeoutMillis, maxPending);
        server.start();
    }

    private SocketChannel idle() throws IOException {
        SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        clients.add(c);
        return c;
    }

    /** A client that completes its handshake and makes a call (a fresh control segment each time). */
    private void realClient() throws IOException {
        long size = ControlSegment.requiredSize(LANES, SLOT);
        Path control = dir.resolve("control" + controls++);
        try (RandomAccessFile f = new RandomAccessFile(control.toFile(), "rw")) {
            f.setLength(size);
        }
        ControlSegment seg = ControlSegment.map(control, size);
        seg.writeHeader(LANES, SLOT, (int) ProcessHandle.current().pid(), 0);
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            Welcome w = PyLane.hello(ch, token, 0, LANES, 0, ProtocolVersion.Current, control, size);
            assertNull(w.error());
            PyLane lane = new PyLane(ch, ControlSegment.map(control, size).validate(LANES), 0);
            assertEquals(9L, lane.call(Wire.callStatic("java.lang.Math", "max", 9, 3).bytes()).value);
        }
    }

    /** Reads the refusal a pending connection gets, then its EOF. @return the Welcome's error */
    private static String refusal(SocketChannel c) throws IOException {
        String error = Welcome.getRootAsWelcome(Frames.read(c)).error();
        assertEquals(-1, c.read(ByteBuffer.allocate(1)), "connection left open after its refusal");
        return error;
    }

    /** Polls a condition the class's timeout bounds; the pause only spares the CPU. */
    private static void await(BooleanSupplier condition) throws InterruptedException {
        while (!condition.getAsBoolean()) {
            Thread.sleep(5);
        }
    }

    @Test
    void idleConnectionsCostNoThreadsAndAllCloseAtTheirDeadline() throws Exception {
        start(4_000, 4096);
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        realClient(); // lanes, warm-up and reclaimer threads exist before the baseline
        await(() -> server.liveSessions() == 0);
        int before = threads.getThreadCount();
        for (int i = 0; i < 2000; i++) {
            idle();
        }
        await(() -> server.pendingHandshakes() == 2000);
        int during = threads.getThreadCount();
        // One thread per connection made 2,022 threads for 2,000 idle connections.
        assertTrue(during - before <= 8, "threads grew from " + before + " to " + during
                + " with 2,000 idle connections");
        realClient(); // served while the 2,000 wait
        for (SocketChannel c : clients) {
            String error = refusal(c);
            assertTrue(error.startsWith("no complete Hello within 4000 ms"), error);
        }
        assertEquals(0, server.pendingHandshakes());
        assertEquals(0, server.liveSessions());
        realClient(); // and after
    }

    @Test
    void partialFramesGarbageAndSilenceAreRefusedAtTheDeadline() throws Exception {
        start(300, 64);
        SocketChannel silent = idle();
        SocketChannel partialHead = idle();
        partialHead.write(ByteBuffer.wrap(new byte[] {5, 0}));
        SocketChannel partialBody = idle();
        ByteBuffer head = ByteBuffer.allocate(14).order(ByteOrder.LITTLE_ENDIAN);
        head.putInt(100).put(new byte[10]).flip();
        partialBody.write(head);
        for (SocketChannel c : List.of(silent, partialHead, partialBody)) {
            String error = refusal(c);
            assertTrue(error.startsWith("no complete Hello within 300 ms"), error);
        }
        // A length outside 1..64 KiB: closed at once, nothing to answer.
        SocketChannel zero = idle();
        zero.write(ByteBuffer.wrap(new byte[4]));
        assertEquals(-1, zero.read(ByteBuffer.allocate(16)));
        // A whole frame of garbage: a Welcome naming the problem.
        SocketChannel garbage = idle();
        ByteBuffer junk = ByteBuffer.allocate(4 + 40).order(ByteOrder.LITTLE_ENDIAN);
        junk.putInt(40);
        byte[] noise = new byte[40];
        new Random(11).nextBytes(noise);
        junk.put(noise).flip();
        garbage.write(junk);
        String error = refusal(garbage);
        assertTrue(error != null && !error.isEmpty());
        assertEquals(0, server.pendingHandshakes());
        realClient();
    }

    @Test
    void theDeadlineComesFromTheSystemProperty() throws Exception {
        String old = System.setProperty("gatun.handshake.timeoutMillis", "250");
        try {
            server = new GatunServer(socket, token, false);
        } finally {
            if (old == null) {
                System.clearProperty("gatun.handshake.timeoutMillis");
            } else {
                System.setProperty("gatun.handshake.timeoutMillis", old);
            }
        }
        server.start();
        String error = refusal(idle());
        assertTrue(error.startsWith("no complete Hello within 250 ms"), error);
    }

    @Test
    void beyondTheCapTheLongestWaitingIsRefused() throws Exception {
        start(30_000, 3);
        SocketChannel first = idle();
        await(() -> server.pendingHandshakes() == 1);
        idle();
        idle();
        await(() -> server.pendingHandshakes() == 3);
        idle(); // the fourth pushes the first out
        String error = refusal(first);
        assertTrue(error.startsWith("too many connections are waiting to send their Hello (at most 3"), error);
        await(() -> server.pendingHandshakes() == 3);
        realClient(); // refuses the next oldest, and completes before anyone can refuse it
        assertTrue(refusal(clients.get(1)).startsWith("too many connections"));
        assertEquals(2, server.pendingHandshakes());
        server.close();
        for (SocketChannel c : clients.subList(2, 4)) {
            assertEquals(-1, c.read(ByteBuffer.allocate(64)), "close() left a pending connection open");
        }
    }
}
