package gatun.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.RegionRef;
import gatun.protocol.Spill;
import gatun.server.shm.ControlSegment;
import gatun.server.shm.Segment;
import gatun.server.shm.SegmentDirectory;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Messages larger than a slot (SHM_LAYOUT.md, "Spill") through the real
 * server: a spilled request is read from a segment of "Python" (a file
 * published in the directory), a malformed reference is an error reply
 * that never reads outside the mapping, and a large response arrives in a
 * region of Java's arena.
 */
@Timeout(30)
class SpillEndToEndTest {
    private static final int LANES = 1;
    private static final int SLOT = 4096 * 4;
    private static final int PY_SEGMENT = 1;
    private static final long PY_SEGMENT_SIZE = 1 << 16;
    private final byte[] token = new byte[16];
    private Path dir;
    private Path socket;
    private Path control;
    private Path pySegment;
    private GatunServer server;
    private ControlSegment seg;

    @BeforeEach
    void setUp() throws IOException {
        new Random().nextBytes(token);
        dir = Files.createTempDirectory("gatun-spill", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        socket = dir.resolve("s.sock");
        control = dir.resolve("control");
        long size = ControlSegment.requiredSize(LANES, SLOT);
        try (RandomAccessFile f = new RandomAccessFile(control.toFile(), "rw")) {
            f.setLength(size);
        }
        seg = ControlSegment.map(control, size);
        seg.writeHeader(LANES, SLOT, (int) ProcessHandle.current().pid(), 0);
        pySegment = dir.resolve("py-segment");
        try (RandomAccessFile f = new RandomAccessFile(pySegment.toFile(), "rw")) {
            f.setLength(PY_SEGMENT_SIZE);
        }
        seg.directory().publish(0, PY_SEGMENT, 0, 1, 1, PY_SEGMENT_SIZE, -1, pySegment.toString());
        server = new GatunServer(socket, token, false);
        server.start();
    }

    @AfterEach
    void tearDown() throws IOException {
        server.close();
        for (Path p : List.of(control, socket, pySegment, dir)) {
            Files.deleteIfExists(p);
        }
    }

    private PyLane connect(SocketChannel ch) throws IOException {
        assertNull(PyLane.hello(ch, token, 0, LANES, 0, gatun.protocol.ProtocolVersion.Current, control,
                ControlSegment.requiredSize(LANES, SLOT)).error());
        return new PyLane(ch, ControlSegment.map(control, ControlSegment.requiredSize(LANES, SLOT)).validate(LANES), 0);
    }

    private static byte[] spill(long handle, long segment, long offset, long length) {
        FlatBufferBuilder b = new FlatBufferBuilder(64);
        Spill.startSpill(b);
        Spill.addRegion(b, RegionRef.createRegionRef(b, handle, segment, 0, offset, length));
        b.finish(Spill.endSpill(b));
        return b.sizedByteArray();
    }

    /** The release notices Java has put on its ring so far. */
    private long releasesSent() {
        return seg.releaseRing(ControlSegment.RING_JAVA_TO_PY_OFFSET).head();
    }

    @Test
    void aSpilledRequestIsReadFromPythonsSegmentAndReleased() throws Exception {
        byte[] call = Wire.callStatic("java.lang.Math", "max", 5, 6).bytes();
        try (RandomAccessFile f = new RandomAccessFile(pySegment.toFile(), "rw")) {
            f.seek(4096);
            f.write(call);
        }
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            PyLane c = connect(ch);
            long before = releasesSent();
            Wire.Result r = c.callSpilled(spill(0x1234, PY_SEGMENT, 4096, call.length));
            assertEquals(6L, r.value, r::toString);
            assertEquals(before + 1, releasesSent());
            assertEquals(0x1234L, seg.releaseRing(ControlSegment.RING_JAVA_TO_PY_OFFSET).handle(before));
            assertEquals(1, seg.releaseRing(ControlSegment.RING_JAVA_TO_PY_OFFSET).count(before));
        }
    }

    @Test
    void malformedSpillReferencesAreErrorRepliesAndTheLaneGoesOn() throws Exception {
        byte[] junk = new byte[64];
        java.util.Arrays.fill(junk, (byte) 0xFF);
        try (RandomAccessFile f = new RandomAccessFile(pySegment.toFile(), "rw")) {
            f.seek(8192);
            f.write(junk);
        }
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            PyLane c = connect(ch);
            Object[][] cases = {
                {junk, "malformed spill message"},
                {new byte[4], "too short"},
                {spill(1, PY_SEGMENT, PY_SEGMENT_SIZE - 100, 200), "exceeds segment 1"},
                {spill(1, PY_SEGMENT, -64, 100), "exceeds segment 1"},
                {spill(1, PY_SEGMENT, 0, Long.MAX_VALUE), "exceeds the largest message"},
                {spill(1, PY_SEGMENT, 0, -1), "exceeds the largest message"},
                {spill(1, 7, 0, 100), "segment 7 is not published"},
                {spill(1, 0x8001, 0, 100), "not one of Python's"},
                {spill(1, 0, 0, 100), "not one of Python's"},
                // In range, but the bytes there are no request.
                {spill(1, PY_SEGMENT, 8192, 64), "malformed request"},
            };
            for (Object[] k : cases) {
                Wire.Result r = c.callSpilled((byte[]) k[0]);
                assertEquals("gatun.server.ProtocolException", r.errorClass, () -> k[1] + ": " + r);
                assertTrue(r.errorMessage.contains((String) k[1]), r.errorMessage);
            }
            Wire.Result r = c.call(Wire.callStatic("java.lang.Math", "max", 3, 4).bytes());
            assertEquals(4L, r.value, r::toString);
        }
    }

    @Test
    void aResponseLargerThanTheSlotArrivesInARegionOfJavasArena() throws Exception {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            PyLane c = connect(ch);
            byte[] copies = Wire.callStatic("java.util.Collections", "nCopies", SLOT, "abc").bytes();
            ByteBuffer envelope = c.awaitRaw(c.send(copies, copies.length));
            assertTrue((seg.responseFlags(0) & ControlSegment.RESP_FLAG_SPILL) != 0);
            RegionRef region = Spill.getRootAsSpill(envelope).region();
            assertNotNull(region);
            assertTrue(region.length() > SLOT, () -> region.length() + " bytes");
            int entry = -1;
            for (int e = SegmentDirectory.PYTHON_ENTRIES; e < SegmentDirectory.ENTRIES; e++) {
                if (seg.directory().published(e) == 1 && seg.directory().segmentId(e) == region.segment()) {
                    entry = e;
                }
            }
            assertTrue(entry >= 0, "segment " + region.segment() + " is not in the directory");
            Segment m = Segment.mapPeer(Path.of(seg.directory().name(entry)), seg.directory().size(entry));
            Wire.Result r = Wire.read(m.slice(region.offset(), (int) region.length()));
            assertEquals(SLOT, ((List<?>) r.value).size(), r::toString);
            assertEquals("abc", ((List<?>) r.value).get(SLOT - 1));
            // The lane goes on; the region stays Python's until it sends Release.
            r = c.call(Wire.callStatic("java.lang.Math", "max", 1, 2).bytes());
            assertEquals(2L, r.value, r::toString);
        }
    }
}
