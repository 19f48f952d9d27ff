package gatun.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Hello;
import gatun.protocol.ProtocolVersion;
import gatun.protocol.Welcome;
import gatun.server.shm.ControlSegment;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The real server in this JVM: Unix socket handshake, control segment in a temp file, doorbell. */
@Timeout(30)
class ServerEndToEndTest {
    private static final int LANES = 2;
    private static final int SLOT = 4096 * 4;
    private final byte[] token = new byte[16];
    private Path dir;
    private Path socket;
    private Path control;
    private GatunServer server;
    private ControlSegment seg;

    @BeforeEach
    void setUp() throws IOException {
        new Random().nextBytes(token);
        dir = Files.createTempDirectory("gatun-test", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        socket = dir.resolve("s.sock");
        control = dir.resolve("control");
        Files.createFile(control, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        long size = ControlSegment.requiredSize(LANES, SLOT);
        try (RandomAccessFile f = new RandomAccessFile(control.toFile(), "rw")) {
            f.setLength(size);
        }
        seg = ControlSegment.map(control, size);
        seg.writeHeader(LANES, SLOT, (int) ProcessHandle.current().pid(), 0);
        server = new GatunServer(socket, token, false);
        server.start();
    }

    @AfterEach
    void tearDown() throws IOException {
        server.close();
        Files.deleteIfExists(control);
        Files.deleteIfExists(socket);
        Files.deleteIfExists(dir);
    }

    private static void writeFrame(SocketChannel ch, ByteBuffer payload) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        head.putInt(payload.remaining()).flip();
        ch.write(new ByteBuffer[] {head, payload});
    }

    private SocketChannel connect() throws IOException {
        return SocketChannel.open(UnixDomainSocketAddress.of(socket));
    }

    private Welcome hello(SocketChannel ch, byte[] tok, int lane, long sessionId, long version) throws IOException {
        return PyLane.hello(ch, tok, lane, LANES, sessionId, version, control, ControlSegment.requiredSize(LANES, SLOT));
    }

    @Test
    void requestsFlowThroughSharedMemory() throws Exception {
        try (SocketChannel ch = connect()) {
            Welcome w = hello(ch, token, 0, 0, ProtocolVersion.Current);
            assertNull(w.error());
            assertNotEquals(0L, w.sessionId());
            assertEquals(ProcessHandle.current().pid(), w.pid());
            assertEquals(ProcessHandle.current().pid(), seg.jvmPid());
            ControlSegment view = ControlSegment.map(control, ControlSegment.requiredSize(LANES, SLOT)).validate(LANES);
            PyLane c = new PyLane(ch, view, 0);

            Wire.Result r = c.call(Wire.callStatic("java.lang.Math", "max", 10, 20).bytes());
            assertEquals(20L, r.value, r::toString);

            // Random bytes in the slot: an error for that sequence, and the lane goes on.
            byte[] junk = new byte[300];
            new Random(7).nextBytes(junk);
            r = c.call(junk);
            assertEquals("gatun.server.ProtocolException", r.errorClass, r::toString);
            r = c.call(Wire.callStatic("java.lang.Math", "max", 1, 2).bytes(), SLOT + 1);
            assertEquals("gatun.server.ProtocolException", r.errorClass);
            assertEquals("request of " + (SLOT + 1) + " bytes exceeds the lane slot of " + SLOT + " bytes",
                    r.errorMessage);
            r = c.call(Wire.callStatic("java.lang.Math", "max", 3, 4).bytes());
            assertEquals(4L, r.value, r::toString);

            // A response larger than the slot spills (SpillEndToEndTest reads it).
            byte[] copies = Wire.callStatic("java.util.Collections", "nCopies", SLOT, "abc").bytes();
            c.awaitRaw(c.send(copies, copies.length));
            assertTrue((view.responseFlags(0) & ControlSegment.RESP_FLAG_SPILL) != 0);

            // Many round trips, so the worker goes through both spinning and parking.
            for (int i = 0; i < 200; i++) {
                r = c.call(Wire.callStatic("java.lang.Math", "max", i, 5).bytes());
                assertEquals((long) Math.max(i, 5), r.value);
                if (i % 50 == 0) {
                    awaitParked(view, 0); // the next request finds the worker parked, not spinning
                }
            }

            // Cancel interrupts user code only; the lane keeps serving.
            long s = c.send(Wire.callStatic("java.lang.Thread", "sleep", 20_000).bytes(), -2);
            r = c.await(s);
            assertEquals("gatun.server.ProtocolException", r.errorClass);
            byte[] sleep = Wire.callStatic("java.lang.Thread", "sleep", 20_000).bytes();
            s = c.send(sleep, sleep.length);
            awaitUserCode("-lane0-worker", "sleep"); // cancel the call once it runs, not before
            c.cancel(s);
            r = c.await(s);
            assertEquals("java.lang.InterruptedException", r.errorClass, r::toString);
            r = c.call(Wire.callStatic("java.lang.Math", "max", 5, 6).bytes());
            assertEquals(6L, r.value);

            // Lane 1 joins the session and sees its objects.
            long list = c.call(Wire.create("java.util.ArrayList").bytes()).id();
            try (SocketChannel ch1 = connect()) {
                Welcome w1 = hello(ch1, token, 1, w.sessionId(), ProtocolVersion.Current);
                assertNull(w1.error());
                assertEquals(w.sessionId(), w1.sessionId());
                PyLane c1 = new PyLane(ch1, view, 1);
                c1.call(Wire.call(list, "add", "from lane 1").bytes());
                assertEquals(1L, c.call(Wire.call(list, "size").bytes()).value);
                try (SocketChannel dup = connect()) {
                    assertTrue(hello(dup, token, 1, w.sessionId(), ProtocolVersion.Current).error() != null);
                }
            }
        }
        // Closing a lane ends the session.
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (server.liveSessions() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, server.liveSessions());
    }

    /** Waits until lane {@code lane}'s worker has parked ({@code jvm_waiting} set after its spin). */
    private static void awaitParked(ControlSegment view, int lane) throws InterruptedException {
        while (view.jvmWaiting(lane) == 0) {
            if (Thread.interrupted()) {
                throw new InterruptedException("lane " + lane + "'s worker never parked");
            }
            Thread.onSpinWait();
        }
    }

    /**
     * Waits until the thread whose name ends with {@code threadSuffix} runs a
     * method named {@code method} (the class's {@code @Timeout} bounds the wait).
     */
    private static void awaitUserCode(String threadSuffix, String method) throws InterruptedException {
        while (true) {
            for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
                if (e.getKey().getName().endsWith(threadSuffix)) {
                    for (StackTraceElement f : e.getValue()) {
                        if (f.getClassName().equals("java.lang.Thread") && f.getMethodName().equals(method)) {
                            return;
                        }
                    }
                }
            }
            if (Thread.interrupted()) {
                throw new InterruptedException(threadSuffix + " never ran " + method);
            }
            Thread.onSpinWait();
        }
    }

    @Test
    void controlSegmentByDescriptor() throws Exception {
        // Map the segment as /proc/<pid>/fd/<n>, as for Python's memfd: find an fd of this JVM
        // that refers to the control file.
        try (RandomAccessFile f = new RandomAccessFile(control.toFile(), "rw")) {
            int fd = -1;
            try (var fds = Files.list(Path.of("/proc/self/fd"))) {
                for (Path p : (Iterable<Path>) fds::iterator) {
                    try {
                        if (Files.readSymbolicLink(p).equals(control.toRealPath())) {
                            fd = Integer.parseInt(p.getFileName().toString());
                        }
                    } catch (IOException e) {
                        // the listing's own descriptor vanished
                    }
                }
            }
            assertTrue(fd >= 0 && f.length() > 0, "no descriptor for " + control);
            try (SocketChannel ch = connect()) {
                FlatBufferBuilder b = new FlatBufferBuilder(256);
                int t = Hello.createTokenVector(b, token);
                Hello.startHello(b);
                Hello.addProtocolVersion(b, ProtocolVersion.Current);
                Hello.addToken(b, t);
                Hello.addPid(b, (int) ProcessHandle.current().pid());
                Hello.addLaneIndex(b, 0);
                Hello.addLaneCount(b, LANES);
                Hello.addControlFd(b, fd);
                Hello.addControlSize(b, ControlSegment.requiredSize(LANES, SLOT));
                b.finish(Hello.endHello(b));
                writeFrame(ch, b.dataBuffer());
                Welcome w = Welcome.getRootAsWelcome(Frames.read(ch));
                assertNull(w.error());
                PyLane c = new PyLane(ch, ControlSegment.map(control, ControlSegment.requiredSize(LANES, SLOT))
                        .validate(LANES), 0);
                assertEquals(7L, c.call(Wire.callStatic("java.lang.Math", "max", 7, 6).bytes()).value);
            }
        }
    }

    @Test
    void sessionsAreIsolatedAndLanesRunConcurrently() throws Exception {
        long size = ControlSegment.requiredSize(LANES, SLOT);
        Path control2 = dir.resolve("control2");
        try (RandomAccessFile f = new RandomAccessFile(control2.toFile(), "rw")) {
            f.setLength(size);
        }
        ControlSegment seg2 = ControlSegment.map(control2, size);
        seg2.writeHeader(LANES, SLOT, 1, 0);
        try (SocketChannel a = connect(); SocketChannel b = connect(); SocketChannel a1 = connect()) {
            Welcome wa = hello(a, token, 0, 0, ProtocolVersion.Current);
            Welcome wb = PyLane.hello(b, token, 0, LANES, 0, ProtocolVersion.Current, control2, size);
            assertNull(wa.error());
            assertNull(wb.error());
            assertNotEquals(wa.sessionId(), wb.sessionId());
            assertNull(hello(a1, token, 1, wa.sessionId(), ProtocolVersion.Current).error());
            PyLane la = new PyLane(a, seg.validate(LANES), 0);
            PyLane la1 = new PyLane(a1, ControlSegment.map(control, size).validate(LANES), 1);
            PyLane lb = new PyLane(b, seg2.validate(LANES), 0);
            long list = la.call(Wire.create("java.util.ArrayList").bytes()).id();
            Wire.Result r = lb.call(Wire.call(list, "size").bytes());
            assertEquals("gatun.server.UnknownObjectException", r.errorClass);
            assertEquals(2, server.liveSessions());

            // Two lanes of one session, driven from two threads at once.
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            Thread t = new Thread(() -> {
                try {
                    for (int i = 0; i < 300; i++) {
                        la1.call(Wire.call(list, "add", i).bytes());
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            t.start();
            for (int i = 0; i < 300; i++) {
                assertEquals((long) i + 1, la.call(Wire.callStatic("java.lang.Math", "max", i + 1, 0).bytes()).value);
            }
            t.join(20_000);
            assertNull(failure.get());
            assertEquals(300L, la.call(Wire.call(list, "size").bytes()).value);
        } finally {
            Files.deleteIfExists(control2);
        }
    }

    @Test
    void refusals() throws Exception {
        try (SocketChannel ch = connect()) {
            byte[] bad = token.clone();
            bad[0] ^= 1;
            Welcome w = hello(ch, bad, 0, 0, ProtocolVersion.Current);
            assertEquals("bad token", w.error());
            assertEquals(-1, ch.read(ByteBuffer.allocate(1)));
        }
        try (SocketChannel ch = connect()) {
            Welcome w = hello(ch, token, 0, 0, 99);
            assertEquals("protocol version mismatch: client speaks 99, server speaks 1", w.error());
        }
        try (SocketChannel ch = connect()) {
            Welcome w = hello(ch, token, 1, 12345, ProtocolVersion.Current);
            assertTrue(w.error().startsWith("unknown session"), w.error());
        }
        Random rnd = new Random(3);
        for (int i = 0; i < 20; i++) {
            try (SocketChannel ch = connect()) {
                byte[] junk = new byte[1 + rnd.nextInt(64)];
                rnd.nextBytes(junk);
                writeFrame(ch, ByteBuffer.wrap(junk));
                Welcome w = Welcome.getRootAsWelcome(Frames.read(ch));
                assertTrue(w.error() != null && !w.error().isEmpty());
            }
        }
        try (SocketChannel ch = connect()) {
            ByteBuffer huge = ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            huge.putInt(1 << 20).flip();
            ch.write(huge);
            assertEquals(-1, ch.read(ByteBuffer.allocate(16)));
        }
        assertEquals(0, server.liveSessions());
    }
}
