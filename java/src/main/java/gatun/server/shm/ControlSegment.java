package gatun.server.shm;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The control segment shared with Python: its header and lanes, with the
 * {@link SegmentDirectory} and the two {@link ReleaseRing}s reached through it.
 *
 * <p>Every access goes through little-endian {@link VarHandle}s on the mapped
 * buffer, so memory ordering is explicit (plain, volatile = SeqCst, CAS) and
 * the byte order never depends on the buffer's default big-endian view. Every
 * offset comes from the generated {@link Layout} ({@code schemas/layout.toml},
 * whose tables {@code schemas/SHM_LAYOUT.md} shows with each field's meaning);
 * the byte vectors in {@code schemas/vectors/} check the result.
 *
 * <p>The blocks (header, {@link SegmentDirectory}, two {@link ReleaseRing}s,
 * the lanes) and every field are drawn once, from the same source, in
 * {@code schemas/SHM_LAYOUT.md}; they are not drawn again here.
 *
 * <p>Example: {@code new ControlSegment(buf).requestSeq(0)} reads lane 0's
 * {@code req_seq} with SeqCst ordering.
 */
public final class ControlSegment {
    /** "GTUNCTL1" read as little-endian bytes. */
    public static final long MAGIC = Layout.MAGIC;
    /** Layout version written by Python at offset 8. */
    public static final int LAYOUT_VERSION = Layout.LAYOUT_VERSION;
    /** Largest segment either side maps. */
    public static final long MAX_SEGMENT_SIZE = Layout.MAX_SEGMENT_SIZE;
    /** Most lanes a control segment may carry. */
    public static final int MAX_LANES = Layout.MAX_LANES;
    /** Smallest slot. */
    public static final int MIN_SLOT_SIZE = Layout.MIN_SLOT_SIZE;
    /** Largest slot. */
    public static final int MAX_SLOT_SIZE = Layout.MAX_SLOT_SIZE;

    /** Header size in bytes. */
    public static final int HEADER_SIZE = Layout.Header.BYTES;
    /** Header field offsets. */
    public static final int H_MAGIC = Layout.Header.MAGIC, H_VERSION = Layout.Header.VERSION,
            H_LANES = Layout.Header.LANES, H_SLOT_SIZE = Layout.Header.SLOT_SIZE, H_PY_PID = Layout.Header.PY_PID,
            H_JVM_PID = Layout.Header.JVM_PID, H_PY_START = Layout.Header.PY_START,
            H_JVM_START = Layout.Header.JVM_START, H_STATE = Layout.Header.STATE;
    /** Header {@code state} values. */
    public static final int STATE_CREATED = Layout.STATE_CREATED, STATE_READY = Layout.STATE_READY,
            STATE_CLOSING = Layout.STATE_CLOSING, STATE_CLOSED = Layout.STATE_CLOSED;

    /** Where the segment directory starts ({@link SegmentDirectory}). */
    public static final int DIRECTORY_OFFSET = Layout.DIRECTORY_OFFSET;
    /** Release rings ({@link ReleaseRing}): Python to Java, Java to Python. */
    public static final int RING_PY_TO_JAVA_OFFSET = Layout.RING_TO_JAVA_OFFSET,
            RING_JAVA_TO_PY_OFFSET = Layout.RING_TO_PYTHON_OFFSET;

    /** First lane's offset. */
    public static final int LANES_OFFSET = Layout.LANES_OFFSET;
    /** Lane header size; the request slot starts here. */
    public static final int LANE_HEADER_SIZE = Layout.Lane.BYTES;
    /** Lane field offsets (Python's cache line). */
    public static final int L_REQ_SEQ = Layout.Lane.REQ_SEQ, L_REQ_LEN = Layout.Lane.REQ_LEN,
            L_REQ_FLAGS = Layout.Lane.REQ_FLAGS, L_PY_WAITING = Layout.Lane.PY_WAITING,
            L_PY_SPINNING = Layout.Lane.PY_SPINNING, L_CANCEL_SEQ = Layout.Lane.CANCEL_SEQ;
    /** Lane field offsets (Java's cache line). */
    public static final int L_RESP_SEQ = Layout.Lane.RESP_SEQ, L_RESP_LEN = Layout.Lane.RESP_LEN,
            L_RESP_FLAGS = Layout.Lane.RESP_FLAGS, L_JVM_WAITING = Layout.Lane.JVM_WAITING,
            L_JVM_SPINNING = Layout.Lane.JVM_SPINNING, L_ACKED_SEQ = Layout.Lane.ACKED_SEQ;
    /** Lane field offset: the worker thread's Linux thread id (its own cache line, written once). */
    public static final int L_WORKER_TID = Layout.Lane.WORKER_TID;
    /** {@code resp_flags} bit: the response slot holds a callback call, not an answer. */
    public static final int RESP_FLAG_CALLBACK = Layout.RESP_FLAG_CALLBACK;
    /**
     * {@code resp_flags} bit: the answer holds something Java keeps until
     * Python has read it (a region of Python's own memory forwarded back, a
     * schema definition); Python sends an acknowledgement notice on the
     * Python -&gt; Java release ring once it has decoded the answer.
     */
    public static final int RESP_FLAG_NEEDS_ACK = Layout.RESP_FLAG_NEEDS_ACK;

    /**
     * {@code resp_flags} bit: the response slot holds a {@code Spill} naming a
     * region of Java's arena.
     */
    public static final int RESP_FLAG_SPILL = Layout.RESP_FLAG_SPILL;
    /** {@code req_flags} bit: the request slot holds a {@code Spill} naming a region of Python's arena. */
    public static final int REQ_FLAG_SPILL = Layout.REQ_FLAG_SPILL;

    private static final VarHandle LONG =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final ByteBuffer buf;
    private final SegmentDirectory directory;
    private final ReleaseRing ringToJava;
    private final ReleaseRing ringToPython;
    private int slotSize;
    private int laneCount;

    /**
     * Wraps a buffer holding a control segment (a mapping, or a direct buffer in tests).
     * Lane accessors need {@link #validate} or {@link #writeHeader} first.
     *
     * @param buf the whole segment; a direct buffer so atomic access modes work
     */
    public ControlSegment(ByteBuffer buf) {
        this.buf = buf;
        this.directory = new SegmentDirectory(buf);
        this.ringToJava = new ReleaseRing(buf, RING_PY_TO_JAVA_OFFSET);
        this.ringToPython = new ReleaseRing(buf, RING_JAVA_TO_PY_OFFSET);
    }

    /** @return the segment directory */
    public SegmentDirectory directory() {
        return directory;
    }

    /**
     * @param ringOffset {@link #RING_PY_TO_JAVA_OFFSET} or {@link #RING_JAVA_TO_PY_OFFSET}
     * @return that release ring
     */
    public ReleaseRing releaseRing(int ringOffset) {
        if (ringOffset == RING_PY_TO_JAVA_OFFSET) {
            return ringToJava;
        }
        if (ringOffset == RING_JAVA_TO_PY_OFFSET) {
            return ringToPython;
        }
        throw new IllegalArgumentException("no release ring at offset " + ringOffset);
    }

    /**
     * Maps {@code size} bytes of a segment file read/write.
     *
     * @param path a file, or {@code /proc/<pid>/fd/<n>} for a peer's memfd
     * @param size bytes to map
     * @return the mapped segment, not yet validated
     * @throws IOException if the file cannot be opened or is smaller than {@code size}
     */
    public static ControlSegment map(Path path, long size) throws IOException {
        if (size < LANES_OFFSET || size > MAX_SEGMENT_SIZE) {
            throw new IOException("control segment size " + size + " is outside " + LANES_OFFSET
                    + ".." + MAX_SEGMENT_SIZE + " bytes");
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long actual = ch.size();
            if (actual < size) {
                throw new IOException("control segment " + path + " holds " + actual
                        + " bytes, the handshake announced " + size);
            }
            MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_WRITE, 0, size);
            return new ControlSegment(mapped);
        }
    }

    /**
     * Bytes a control segment with these parameters needs.
     *
     * @param lanes lane count
     * @param slotSize slot size in bytes
     * @return the minimal segment size
     */
    public static long requiredSize(int lanes, int slotSize) {
        return LANES_OFFSET + (long) lanes * (LANE_HEADER_SIZE + 2L * slotSize);
    }

    /**
     * Checks the header Python wrote against the layout and the handshake, then
     * enables the lane accessors.
     *
     * @param expectedLanes lane count announced in Hello
     * @return this
     * @throws IllegalArgumentException naming the first field that does not match
     */
    public ControlSegment validate(int expectedLanes) {
        long magic = (long) LONG.getVolatile(buf, H_MAGIC);
        if (magic != MAGIC) {
            throw new IllegalArgumentException(String.format(
                    "control segment magic is 0x%016x, expected 0x%016x", magic, MAGIC));
        }
        int version = (int) INT.getVolatile(buf, H_VERSION);
        if (version != LAYOUT_VERSION) {
            throw new IllegalArgumentException("control segment layout version is " + version
                    + ", this server reads version " + LAYOUT_VERSION);
        }
        int lanes = (int) INT.getVolatile(buf, H_LANES);
        if (lanes < 1 || lanes > MAX_LANES) {
            throw new IllegalArgumentException("control segment lane count " + Integer.toUnsignedString(lanes)
                    + " is outside 1.." + MAX_LANES);
        }
        if (lanes != expectedLanes) {
            throw new IllegalArgumentException("control segment has " + lanes
                    + " lanes, the handshake announced " + expectedLanes);
        }
        int slot = (int) INT.getVolatile(buf, H_SLOT_SIZE);
        if (slot < MIN_SLOT_SIZE || slot > MAX_SLOT_SIZE || slot % 4096 != 0) {
            throw new IllegalArgumentException("control segment slot size " + Integer.toUnsignedString(slot)
                    + " is not a multiple of 4096 in " + MIN_SLOT_SIZE + ".." + MAX_SLOT_SIZE);
        }
        long need = requiredSize(lanes, slot);
        if (need > buf.capacity()) {
            throw new IllegalArgumentException("control segment of " + buf.capacity() + " bytes is too small for "
                    + lanes + " lanes of " + slot + "-byte slots (" + need + " bytes)");
        }
        this.laneCount = lanes;
        this.slotSize = slot;
        return this;
    }

    // ------------------------------------------------------------------ header

    /**
     * Writes Python's header fields (magic, version, lanes, slot size, pid, start
     * time) — the in-process twin of the Rust writer, used by tests.
     *
     * @param lanes lane count
     * @param slot slot size
     * @param pythonPid Python pid
     * @param pythonStart Python start time
     */
    public void writeHeader(int lanes, int slot, int pythonPid, long pythonStart) {
        LONG.setVolatile(buf, H_MAGIC, MAGIC);
        INT.setVolatile(buf, H_VERSION, LAYOUT_VERSION);
        INT.setVolatile(buf, H_LANES, lanes);
        INT.setVolatile(buf, H_SLOT_SIZE, slot);
        INT.setVolatile(buf, H_PY_PID, pythonPid);
        LONG.setVolatile(buf, H_PY_START, pythonStart);
        this.laneCount = lanes;
        this.slotSize = slot;
    }

    /** @return the magic number */
    public long magic() { return (long) LONG.getVolatile(buf, H_MAGIC); }
    /** @return the layout version */
    public int layoutVersion() { return (int) INT.getVolatile(buf, H_VERSION); }
    /** @return the lane count in the header */
    public int laneCountField() { return (int) INT.getVolatile(buf, H_LANES); }
    /** @return the slot size in the header */
    public int slotSizeField() { return (int) INT.getVolatile(buf, H_SLOT_SIZE); }
    /** @return Python's pid */
    public int pythonPid() { return (int) INT.getVolatile(buf, H_PY_PID); }
    /** @return the JVM pid */
    public int jvmPid() { return (int) INT.getVolatile(buf, H_JVM_PID); }
    /** @return Python's start time */
    public long pythonStartTime() { return (long) LONG.getVolatile(buf, H_PY_START); }
    /** @return the JVM start time */
    public long jvmStartTime() { return (long) LONG.getVolatile(buf, H_JVM_START); }
    /** @return the state word */
    public int state() { return (int) INT.getVolatile(buf, H_STATE); }

    /** @param pid the JVM pid to publish */
    public void setJvmPid(int pid) { INT.setVolatile(buf, H_JVM_PID, pid); }
    /** @param startTime the JVM start time to publish */
    public void setJvmStartTime(long startTime) { LONG.setVolatile(buf, H_JVM_START, startTime); }
    /** @param state the new state word */
    public void setState(int state) { INT.setVolatile(buf, H_STATE, state); }

    /** @return validated lane count */
    public int laneCount() { return laneCount; }
    /** @return validated slot size */
    public int slotSize() { return slotSize; }

    // ------------------------------------------------------------------- lanes

    /**
     * @param lane lane index
     * @return offset of the lane's header
     */
    public int laneBase(int lane) {
        if (lane < 0 || lane >= laneCount) {
            throw new IndexOutOfBoundsException("lane " + lane + " outside 0.." + (laneCount - 1));
        }
        return LANES_OFFSET + lane * (LANE_HEADER_SIZE + 2 * slotSize);
    }

    /**
     * @param lane lane index
     * @return req_seq (SeqCst)
     */
    public long requestSeq(int lane) { return (long) LONG.getVolatile(buf, laneBase(lane) + L_REQ_SEQ); }
    /**
     * @param lane lane index
     * @return req_len (SeqCst)
     */
    public int requestLen(int lane) { return (int) INT.getVolatile(buf, laneBase(lane) + L_REQ_LEN); }
    /**
     * @param lane lane index
     * @return req_flags (SeqCst; {@link #REQ_FLAG_SPILL} or 0)
     */
    public int requestFlags(int lane) { return (int) INT.getVolatile(buf, laneBase(lane) + L_REQ_FLAGS); }
    /**
     * Sets req_flags (Python's side, for tests).
     *
     * @param lane lane index
     * @param flags the flags
     */
    public void setRequestFlags(int lane, int flags) { INT.setVolatile(buf, laneBase(lane) + L_REQ_FLAGS, flags); }
    /**
     * @param lane lane index
     * @return py_waiting
     */
    public int pyWaiting(int lane) { return (int) INT.getVolatile(buf, laneBase(lane) + L_PY_WAITING); }
    /**
     * @param lane lane index
     * @return py_spinning
     */
    public int pySpinning(int lane) { return (int) INT.getVolatile(buf, laneBase(lane) + L_PY_SPINNING); }
    /**
     * @param lane lane index
     * @return cancel_seq
     */
    public long cancelSeq(int lane) { return (long) LONG.getVolatile(buf, laneBase(lane) + L_CANCEL_SEQ); }
    /**
     * @param lane lane index
     * @return resp_seq
     */
    public long responseSeq(int lane) { return (long) LONG.getVolatile(buf, laneBase(lane) + L_RESP_SEQ); }
    /**
     * @param lane lane index
     * @return resp_len
     */
    public int responseLen(int lane) { return (int) INT.getVolatile(buf, laneBase(lane) + L_RESP_LEN); }
    /**
     * @param lane lane index
     * @return jvm_waiting
     */
    public int jvmWaiting(int lane) { return (int) INT.getVolatile(buf, laneBase(lane) + L_JVM_WAITING); }
    /**
     * @param lane lane index
     * @return jvm_spinning
     */
    public int jvmSpinning(int lane) { return (int) INT.getVolatile(buf, laneBase(lane) + L_JVM_SPINNING); }

    /**
     * @param lane lane index
     * @param seq new req_seq (SeqCst; Python's side, for tests)
     */
    public void setRequestSeq(int lane, long seq) { LONG.setVolatile(buf, laneBase(lane) + L_REQ_SEQ, seq); }
    /**
     * @param lane lane index
     * @param len new req_len (Python's side, for tests)
     */
    public void setRequestLen(int lane, int len) { INT.setVolatile(buf, laneBase(lane) + L_REQ_LEN, len); }
    /**
     * @param lane lane index
     * @param v new py_waiting (Python's side, for tests)
     */
    public void setPyWaiting(int lane, int v) { INT.setVolatile(buf, laneBase(lane) + L_PY_WAITING, v); }
    /**
     * @param lane lane index
     * @param seq new cancel_seq (Python's side, for tests)
     */
    public void setCancelSeq(int lane, long seq) { LONG.setVolatile(buf, laneBase(lane) + L_CANCEL_SEQ, seq); }
    /**
     * @param lane lane index
     * @param seq new resp_seq (SeqCst)
     */
    public void setResponseSeq(int lane, long seq) { LONG.setVolatile(buf, laneBase(lane) + L_RESP_SEQ, seq); }
    /**
     * @param lane lane index
     * @param len new resp_len
     */
    public void setResponseLen(int lane, int len) { INT.setVolatile(buf, laneBase(lane) + L_RESP_LEN, len); }
    /**
     * @param lane lane index
     * @param v new jvm_waiting (SeqCst)
     */
    public void setJvmWaiting(int lane, int v) { INT.setVolatile(buf, laneBase(lane) + L_JVM_WAITING, v); }
    /**
     * @param lane lane index
     * @param v new jvm_spinning
     */
    public void setJvmSpinning(int lane, int v) { INT.setVolatile(buf, laneBase(lane) + L_JVM_SPINNING, v); }
    /**
     * @param lane lane index
     * @param tid the lane worker's Linux thread id (0: unknown)
     */
    public void setWorkerTid(int lane, int tid) { INT.setVolatile(buf, laneBase(lane) + L_WORKER_TID, tid); }

    /**
     * @param lane lane index
     * @return {@code resp_flags}
     */
    public int responseFlags(int lane) { return (int) INT.getVolatile(buf, laneBase(lane) + L_RESP_FLAGS); }

    /**
     * Stores {@code resp_flags}; written before {@code resp_seq} is published.
     *
     * @param lane lane index
     * @param flags the flags ({@link #RESP_FLAG_CALLBACK} or 0)
     */
    public void setResponseFlags(int lane, int flags) { INT.setVolatile(buf, laneBase(lane) + L_RESP_FLAGS, flags); }

    /**
     * CAS {@code py_waiting} 1 -&gt; 0 (notify step 2).
     *
     * @param lane lane index
     * @return true if Python was waiting and must be rung
     */
    public boolean takePyWaiting(int lane) {
        return INT.compareAndSet(buf, laneBase(lane) + L_PY_WAITING, 1, 0);
    }

    /**
     * CAS {@code jvm_waiting} 1 -&gt; 0 (wait step 3, or Python's notify step 2 in tests).
     *
     * @param lane lane index
     * @return true if the flag was taken
     */
    public boolean takeJvmWaiting(int lane) {
        return INT.compareAndSet(buf, laneBase(lane) + L_JVM_WAITING, 1, 0);
    }

    /**
     * Copies the request slot's first {@code len} bytes out of shared memory.
     *
     * @param lane lane index
     * @param dst destination, at least {@code len} long
     * @param len bytes to copy, at most the slot size
     */
    public void copyRequest(int lane, byte[] dst, int len) {
        checkLen(len);
        buf.get(laneBase(lane) + LANE_HEADER_SIZE, dst, 0, len);
    }

    /**
     * Writes {@code src}'s remaining bytes into the request slot (Python's side, for tests).
     *
     * @param lane lane index
     * @param src the encoded request
     */
    public void writeRequest(int lane, ByteBuffer src) {
        checkLen(src.remaining());
        buf.put(laneBase(lane) + LANE_HEADER_SIZE, src, src.position(), src.remaining());
    }

    /**
     * Writes {@code src}'s remaining bytes into the response slot.
     *
     * @param lane lane index
     * @param src the encoded response, at most the slot size
     */
    public void writeResponse(int lane, ByteBuffer src) {
        checkLen(src.remaining());
        buf.put(laneBase(lane) + LANE_HEADER_SIZE + slotSize, src, src.position(), src.remaining());
    }

    /**
     * Copies the response slot's first {@code len} bytes (Python's side, for tests).
     *
     * @param lane lane index
     * @param len bytes to copy
     * @return a fresh array
     */
    public byte[] readResponse(int lane, int len) {
        checkLen(len);
        byte[] out = new byte[len];
        buf.get(laneBase(lane) + LANE_HEADER_SIZE + slotSize, out, 0, len);
        return out;
    }

    private void checkLen(int len) {
        if (len < 0 || len > slotSize) {
            throw new IndexOutOfBoundsException(Integer.toUnsignedString(len)
                    + " bytes do not fit the lane slot of " + slotSize + " bytes");
        }
    }
}
