package gatun.server.shm;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One release ring of a control segment: a single-producer single-consumer ring
 * of {@code Release(handle, count)} notices (and, Python to Java, answer
 * acknowledgements), as Rust's {@code ReleaseRing}. The producer writes entries,
 * then publishes {@code head} (release); the consumer reads up to it, then
 * stores {@code tail} (release). Offsets come from the generated {@link Layout}.
 */
public final class ReleaseRing {
    /** Entries per ring (4088). */
    public static final int CAPACITY = Layout.RING_CAPACITY;

    static {
        if (CAPACITY != (Layout.Ring.BYTES - Layout.Ring.ENTRIES) / Layout.RingEntry.BYTES) {
            throw new AssertionError("layout.toml: RING_CAPACITY does not fit the ring's bytes");
        }
    }

    private static final VarHandle LONG =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final ByteBuffer buf;
    private final int base;

    /**
     * @param buf the whole control segment
     * @param base the ring's offset: {@link Layout#RING_TO_JAVA_OFFSET} or {@link Layout#RING_TO_PYTHON_OFFSET}
     */
    ReleaseRing(ByteBuffer buf, int base) {
        if (base != Layout.RING_TO_JAVA_OFFSET && base != Layout.RING_TO_PYTHON_OFFSET) {
            throw new IllegalArgumentException("no release ring at offset " + base);
        }
        this.buf = buf;
        this.base = base;
    }

    /**
     * The entry Python sends to acknowledge that it has read the answer
     * {@code seq} of lane {@code lane}: segment 0 in the top bits (never a
     * region's), the lane from bit {@link Layout#ACK_LANE_SHIFT}, the
     * sequence's low bits below.
     *
     * @param lane the lane index
     * @param seq the answer's sequence number
     * @return the notice's handle
     */
    public static long ackNotice(int lane, long seq) {
        return ((long) (lane & 0xFF) << Layout.ACK_LANE_SHIFT) | (seq & ((1L << Layout.ACK_LANE_SHIFT) - 1));
    }

    /**
     * @param handle an entry's handle
     * @return whether it acknowledges an answer rather than releasing a region
     */
    public static boolean isAckNotice(long handle) {
        return RegionHandle.segment(handle) == 0;
    }

    /** @return the head (acquire): the next index the producer writes */
    public long head() {
        return (long) LONG.getAcquire(buf, base + Layout.Ring.HEAD);
    }

    /** @return the tail (acquire): the next index the consumer reads */
    public long tail() {
        return (long) LONG.getAcquire(buf, base + Layout.Ring.TAIL);
    }

    /**
     * Producer: publishes entries below {@code head} (release store).
     *
     * @param head the next index the producer writes
     */
    public void setHead(long head) {
        LONG.setRelease(buf, base + Layout.Ring.HEAD, head);
    }

    /**
     * Consumer: frees entries below {@code tail} (release store).
     *
     * @param tail the next index the consumer reads
     */
    public void setTail(long tail) {
        LONG.setRelease(buf, base + Layout.Ring.TAIL, tail);
    }

    private int entry(long index) {
        return base + Layout.Ring.ENTRIES + (int) Long.remainderUnsigned(index, CAPACITY) * Layout.RingEntry.BYTES;
    }

    /**
     * Producer: writes entry {@code index} (before the head that covers it is stored).
     *
     * @param index ring index (taken modulo the capacity)
     * @param handle the {@link RegionHandle}
     * @param count descriptors released
     */
    public void write(long index, long handle, int count) {
        int e = entry(index);
        LONG.setOpaque(buf, e + Layout.RingEntry.HANDLE, handle);
        INT.setOpaque(buf, e + Layout.RingEntry.COUNT, count);
        INT.setOpaque(buf, e + Layout.RingEntry.COUNT + 4, 0);
    }

    /**
     * @param index ring index
     * @return the entry's {@link RegionHandle}
     */
    public long handle(long index) {
        return (long) LONG.getOpaque(buf, entry(index) + Layout.RingEntry.HANDLE);
    }

    /**
     * @param index ring index
     * @return the entry's count (unsigned in the layout)
     */
    public int count(long index) {
        return (int) INT.getOpaque(buf, entry(index) + Layout.RingEntry.COUNT);
    }
}
