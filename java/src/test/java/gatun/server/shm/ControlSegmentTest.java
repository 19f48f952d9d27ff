package gatun.server.shm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Checks the layout against the shared byte vectors in schemas/vectors. */
class ControlSegmentTest {
    private static final int LANES = 4;
    private static final int SLOT = 65536;

    static byte[] vector(String name) throws IOException {
        Path p = Path.of("..", "schemas", "vectors", name);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String line : Files.readAllLines(p)) {
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            for (String hex : t.split("\\s+")) {
                out.write(Integer.parseInt(hex, 16));
            }
        }
        return out.toByteArray();
    }

    private static ByteBuffer segment() {
        return ByteBuffer.allocateDirect((int) ControlSegment.requiredSize(LANES, SLOT));
    }

    private static byte[] slice(ByteBuffer b, int off, int len) {
        byte[] out = new byte[len];
        b.get(off, out, 0, len);
        return out;
    }

    @Test
    void headerMatchesVector() throws IOException {
        byte[] expected = vector("control_header.hex");
        assertEquals(64, expected.length);
        ByteBuffer buf = segment();
        ControlSegment seg = new ControlSegment(buf);
        seg.writeHeader(LANES, SLOT, 1234, 111);
        seg.setJvmPid(5678);
        seg.setJvmStartTime(222);
        seg.setState(ControlSegment.STATE_READY);
        assertArrayEquals(expected, slice(buf, 0, 64));

        ByteBuffer read = segment();
        read.put(0, expected);
        ControlSegment r = new ControlSegment(read).validate(LANES);
        assertEquals(ControlSegment.MAGIC, r.magic());
        assertEquals(1, r.layoutVersion());
        assertEquals(LANES, r.laneCount());
        assertEquals(SLOT, r.slotSize());
        assertEquals(1234, r.pythonPid());
        assertEquals(5678, r.jvmPid());
        assertEquals(111, r.pythonStartTime());
        assertEquals(222, r.jvmStartTime());
        assertEquals(ControlSegment.STATE_READY, r.state());
    }

    @Test
    void directoryEntryMatchesVector() throws IOException {
        byte[] expected = vector("directory_entry.hex");
        assertEquals(128, expected.length);
        ByteBuffer buf = segment();
        ControlSegment seg = new ControlSegment(buf);
        seg.directory().publish(0, 3, 1, 1, 2, 1 << 20, 9, "seg-name");
        assertArrayEquals(expected, slice(buf, ControlSegment.DIRECTORY_OFFSET, 128));

        ByteBuffer read = segment();
        read.put(ControlSegment.DIRECTORY_OFFSET + 5 * 128, expected);
        ControlSegment r = new ControlSegment(read);
        assertEquals(1, r.directory().published(5));
        assertEquals(3, r.directory().segmentId(5));
        assertEquals(1, r.directory().owner(5));
        assertEquals(1, r.directory().kind(5));
        assertEquals(2, r.directory().generation(5));
        assertEquals(1 << 20, r.directory().size(5));
        assertEquals(9, r.directory().memfd(5));
        assertEquals("seg-name", r.directory().name(5));
    }

    @Test
    void laneHeaderMatchesVector() throws IOException {
        byte[] expected = vector("lane_header.hex");
        assertEquals(256, expected.length);
        ByteBuffer buf = segment();
        ControlSegment seg = new ControlSegment(buf);
        seg.writeHeader(LANES, SLOT, 1, 1);
        int lane = 2;
        seg.setRequestSeq(lane, 7);
        seg.setRequestLen(lane, 300);
        seg.setPyWaiting(lane, 1);
        seg.setCancelSeq(lane, 5);
        seg.setResponseSeq(lane, 6);
        seg.setResponseLen(lane, 120);
        seg.setJvmSpinning(lane, 1);
        int base = ControlSegment.LANES_OFFSET + lane * (256 + 2 * SLOT);
        assertEquals(base, seg.laneBase(lane));
        assertArrayEquals(expected, slice(buf, base, 256));

        ByteBuffer read = segment();
        ControlSegment r = new ControlSegment(read);
        r.writeHeader(LANES, SLOT, 1, 1);
        read.put(r.laneBase(1), expected);
        assertEquals(7, r.requestSeq(1));
        assertEquals(300, r.requestLen(1));
        assertEquals(1, r.pyWaiting(1));
        assertEquals(5, r.cancelSeq(1));
        assertEquals(6, r.responseSeq(1));
        assertEquals(120, r.responseLen(1));
        assertEquals(0, r.jvmWaiting(1));
        assertEquals(1, r.jvmSpinning(1));
        assertEquals(true, r.takePyWaiting(1));
        assertEquals(false, r.takePyWaiting(1));
    }

    @Test
    void validateRejectsBadHeaders() {
        ByteBuffer buf = segment();
        ControlSegment seg = new ControlSegment(buf);
        assertThrows(IllegalArgumentException.class, () -> seg.validate(LANES));
        seg.writeHeader(LANES, SLOT, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> seg.validate(3));
        seg.writeHeader(LANES, 5000, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> seg.validate(LANES));
        seg.writeHeader(LANES, SLOT * 2, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> seg.validate(LANES));
        seg.writeHeader(LANES, SLOT, 1, 1);
        assertEquals(LANES, seg.validate(LANES).laneCount());
        assertThrows(IndexOutOfBoundsException.class, () -> seg.copyRequest(0, new byte[SLOT + 1], SLOT + 1));
    }

    @Test
    void regionHandlePacksSegmentOffsetAndGeneration() {
        long h = RegionHandle.pack(0x8001, 3 * 64, 0x12345);
        assertEquals(0x8001L << 48 | 3L << 24 | 0x12345L, h);
        assertEquals(0x8001, RegionHandle.segment(h));
        assertEquals(3 * 64, RegionHandle.offset(h));
        assertEquals(0x12345, RegionHandle.generation(h));
        assertEquals(0xFFFFFF, RegionHandle.generation(RegionHandle.pack(1, 0, -1)));
    }

    @Test
    void releaseRingMatchesVector() throws IOException {
        // The same bytes the Rust side writes and reads (schemas/vectors/release_ring.hex).
        byte[] expected = vector("release_ring.hex");
        ByteBuffer buf = segment().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        ControlSegment seg = new ControlSegment(buf);
        ReleaseRing ring = seg.releaseRing(ControlSegment.RING_JAVA_TO_PY_OFFSET);
        ring.write(1, RegionHandle.pack(0x8001, 128, 5), 1);
        ring.write(2, ReleaseRing.ackNotice(3, 42), 1);
        ring.setTail(1);
        ring.setHead(3);
        assertArrayEquals(expected, slice(buf, Layout.RING_TO_PYTHON_OFFSET, expected.length));
        // And read back as the consumer does.
        ByteBuffer in = segment().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        in.put(Layout.RING_TO_JAVA_OFFSET, expected);
        ReleaseRing read = new ControlSegment(in).releaseRing(ControlSegment.RING_PY_TO_JAVA_OFFSET);
        assertEquals(3, read.head());
        assertEquals(1, read.tail());
        assertEquals(0x8001000002000005L, read.handle(1));
        assertEquals(1, read.count(1));
        assertEquals(true, ReleaseRing.isAckNotice(read.handle(2)));
        assertEquals((3L << 40) | 42, read.handle(2));
    }

    @Test
    void releaseRingEntriesSitWhereTheLayoutSays() {
        // With releaseRingMatchesVector, pins the Java side to layout.toml's offsets.
        ByteBuffer buf = segment().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        ControlSegment seg = new ControlSegment(buf);
        ReleaseRing ring = seg.releaseRing(ControlSegment.RING_JAVA_TO_PY_OFFSET);
        long handle = RegionHandle.pack(0x8000, 64, 7);
        ring.write(ReleaseRing.CAPACITY + 1, handle, 3); // wraps to entry 1
        ring.setHead(ReleaseRing.CAPACITY + 2);
        int entry1 = Layout.RING_TO_PYTHON_OFFSET + Layout.Ring.ENTRIES + Layout.RingEntry.BYTES;
        assertEquals(handle, buf.getLong(entry1 + Layout.RingEntry.HANDLE));
        assertEquals(3, buf.getInt(entry1 + Layout.RingEntry.COUNT));
        assertEquals(ReleaseRing.CAPACITY + 2, buf.getLong(Layout.RING_TO_PYTHON_OFFSET + Layout.Ring.HEAD));
        assertEquals(0, buf.getLong(Layout.RING_TO_JAVA_OFFSET + Layout.Ring.HEAD));
        assertEquals(4088, ReleaseRing.CAPACITY);
        assertEquals(handle, ring.handle(1));

        long ack = ReleaseRing.ackNotice(5, 0x1234567890L);
        assertEquals(true, ReleaseRing.isAckNotice(ack));
        assertEquals(false, ReleaseRing.isAckNotice(handle));
        assertEquals(5L << Layout.ACK_LANE_SHIFT | 0x1234567890L, ack);
        assertThrows(IllegalArgumentException.class, () -> seg.releaseRing(123));
    }
}
