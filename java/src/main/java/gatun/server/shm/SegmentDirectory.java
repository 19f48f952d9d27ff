package gatun.server.shm;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The segment directory of a control segment: 63 entries of 128 bytes that name
 * every segment either side maps (entries 0..31 Python's, 32..62 Java's). An
 * entry is published by writing its fields, then {@code published} with release
 * ordering, as Rust's {@code SegmentDirectory} (bridge/src/directory.rs) reads it.
 * Offsets and states come from the generated {@link Layout}.
 */
public final class SegmentDirectory {
    /** Entries in the directory. */
    public static final int ENTRIES = Layout.Directory.COUNT;
    /** Entries 0..PYTHON_ENTRIES-1 are Python's, the rest Java's. */
    public static final int PYTHON_ENTRIES = Layout.PYTHON_DIRECTORY_ENTRIES;
    /** Bytes of an entry's NUL-padded name field. */
    public static final int NAME_SIZE = Layout.Directory.BYTES - Layout.Directory.NAME;

    private static final VarHandle LONG =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final ByteBuffer buf;

    /** @param buf the whole control segment (the directory starts at {@link Layout#DIRECTORY_OFFSET}) */
    SegmentDirectory(ByteBuffer buf) {
        this.buf = buf;
    }

    private static int entry(int index) {
        if (index < 0 || index >= ENTRIES) {
            throw new IndexOutOfBoundsException("directory entry " + index + " outside 0.." + (ENTRIES - 1));
        }
        return Layout.DIRECTORY_OFFSET + index * Layout.Directory.BYTES;
    }

    /**
     * Publishes an entry: every field first, then {@code published} =
     * {@link Layout#ENTRY_LIVE} with release ordering.
     *
     * @param index entry index
     * @param segmentId segment id
     * @param owner {@link Layout#OWNER_PYTHON} or {@link Layout#OWNER_JAVA}
     * @param kind {@link Layout#KIND_CONTROL} or {@link Layout#KIND_PAYLOAD}
     * @param generation generation counter
     * @param size segment size
     * @param memfd memfd number in the owner, -1 to use the name
     * @param name fallback file name (at most 95 UTF-8 bytes)
     */
    public void publish(int index, int segmentId, int owner, int kind, int generation, long size, int memfd,
                        String name) {
        int e = entry(index);
        byte[] n = name == null ? new byte[0] : name.getBytes(StandardCharsets.UTF_8);
        if (n.length >= NAME_SIZE) {
            throw new IllegalArgumentException("segment name of " + n.length + " bytes exceeds " + (NAME_SIZE - 1));
        }
        INT.setOpaque(buf, e + Layout.Directory.SEGMENT_ID, segmentId);
        // owner u8 and kind u8 share a word with a reserved u16
        int packed = (owner & 0xFF) | (kind & 0xFF) << 8 * (Layout.Directory.KIND - Layout.Directory.OWNER);
        INT.setOpaque(buf, e + Layout.Directory.OWNER, packed);
        INT.setOpaque(buf, e + Layout.Directory.GENERATION, generation);
        LONG.setOpaque(buf, e + Layout.Directory.SIZE, size);
        INT.setOpaque(buf, e + Layout.Directory.MEMFD, memfd);
        INT.setOpaque(buf, e + Layout.Directory.MEMFD + 4, 0);
        for (int i = 0; i < NAME_SIZE; i += 4) {
            int word = 0;
            for (int b = 3; b >= 0; b--) {
                word = word << 8 | (i + b < n.length ? n[i + b] & 0xFF : 0);
            }
            INT.setOpaque(buf, e + Layout.Directory.NAME + i, word);
        }
        INT.setRelease(buf, e + Layout.Directory.PUBLISHED, Layout.ENTRY_LIVE);
    }

    /**
     * Marks an entry retired ({@code published} = {@link Layout#ENTRY_RETIRED}, release store).
     *
     * @param index entry index
     */
    public void retire(int index) {
        INT.setRelease(buf, entry(index) + Layout.Directory.PUBLISHED, Layout.ENTRY_RETIRED);
    }

    /**
     * @param index entry index
     * @return the published word (acquire): {@link Layout#ENTRY_FREE}, {@code ENTRY_LIVE} or {@code ENTRY_RETIRED}
     */
    public int published(int index) {
        return (int) INT.getAcquire(buf, entry(index) + Layout.Directory.PUBLISHED);
    }

    /**
     * @param index entry index
     * @return segment id
     */
    public int segmentId(int index) {
        return (int) INT.getOpaque(buf, entry(index) + Layout.Directory.SEGMENT_ID);
    }

    /**
     * @param index entry index
     * @return owner byte
     */
    public int owner(int index) {
        return (int) INT.getOpaque(buf, entry(index) + Layout.Directory.OWNER) & 0xFF;
    }

    /**
     * @param index entry index
     * @return kind byte
     */
    public int kind(int index) {
        return (int) INT.getOpaque(buf, entry(index) + Layout.Directory.OWNER)
                >>> 8 * (Layout.Directory.KIND - Layout.Directory.OWNER) & 0xFF;
    }

    /**
     * @param index entry index
     * @return generation
     */
    public int generation(int index) {
        return (int) INT.getOpaque(buf, entry(index) + Layout.Directory.GENERATION);
    }

    /**
     * @param index entry index
     * @return segment size
     */
    public long size(int index) {
        return (long) LONG.getOpaque(buf, entry(index) + Layout.Directory.SIZE);
    }

    /**
     * @param index entry index
     * @return memfd number
     */
    public int memfd(int index) {
        return (int) INT.getOpaque(buf, entry(index) + Layout.Directory.MEMFD);
    }

    /**
     * @param index entry index
     * @return the NUL-padded file name, decoded as UTF-8
     */
    public String name(int index) {
        int e = entry(index) + Layout.Directory.NAME;
        byte[] n = new byte[NAME_SIZE];
        int len = 0;
        while (len < NAME_SIZE) {
            byte b = buf.get(e + len);
            if (b == 0) {
                break;
            }
            n[len++] = b;
        }
        return new String(n, 0, len, StandardCharsets.UTF_8);
    }
}
