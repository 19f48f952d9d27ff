package gatun.server.shm;



/**
 * Packing of a {@code RegionHandle}, the 64-bit name of an arena region on the
 * wire and in release-ring entries: segment id in the top 16 bits, the offset in
 * 64-byte units in the next 24, the region's generation in the low 24. The
 * shifts and masks come from the generated {@link Layout}, as Rust's
 * {@code RegionHandle} (arena/src/arena.rs) does.
 */
public final class RegionHandle {
    private static final long SEGMENT_MASK = 0xFFFFL;
    private static final long OFFSET_MASK = (1L << (Layout.HANDLE_SEGMENT_SHIFT - Layout.HANDLE_OFFSET_SHIFT)) - 1;

    private RegionHandle() {
    }

    /**
     * @param segment segment id
     * @param offset offset in the segment (a multiple of {@link Layout#HANDLE_OFFSET_UNIT} below 1 GiB)
     * @param generation generation (low 24 bits kept)
     * @return the packed handle
     */
    public static long pack(int segment, long offset, int generation) {
        return (segment & SEGMENT_MASK) << Layout.HANDLE_SEGMENT_SHIFT
                | (offset / Layout.HANDLE_OFFSET_UNIT & OFFSET_MASK) << Layout.HANDLE_OFFSET_SHIFT
                | (generation & Layout.HANDLE_GENERATION_MASK);
    }

    /**
     * @param handle a packed handle
     * @return its segment id (0 names no segment: an acknowledgement notice)
     */
    public static int segment(long handle) {
        return (int) (handle >>> Layout.HANDLE_SEGMENT_SHIFT);
    }

    /**
     * @param handle a packed handle
     * @return its byte offset in the segment
     */
    public static long offset(long handle) {
        return (handle >>> Layout.HANDLE_OFFSET_SHIFT & OFFSET_MASK) * Layout.HANDLE_OFFSET_UNIT;
    }

    /**
     * @param handle a packed handle
     * @return its generation
     */
    public static int generation(long handle) {
        return (int) (handle & Layout.HANDLE_GENERATION_MASK);
    }
}
