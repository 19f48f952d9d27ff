package gatun.server.arrow;

import java.util.Map;
import java.util.TreeMap;

/**
 * The free ranges of one shared-memory segment: first-fit allocation, and
 * coalescing with both neighbours on release, so a segment whose blocks are
 * all returned is one free range again. Not thread-safe: the owning arena
 * guards it.
 */
final class FreeList {
    /** Free ranges: offset -&gt; length, never adjacent to each other. */
    private final TreeMap<Long, Long> free = new TreeMap<>();

    /** A free list with nothing free (e.g. a segment shared from elsewhere). */
    FreeList() {
    }

    /** @param size bytes of the segment, all free */
    FreeList(long size) {
        free.put(0L, size);
    }

    /**
     * Takes {@code want} bytes from the first range large enough.
     *
     * @param want bytes (already rounded by the caller)
     * @return the offset, or -1 if no range is large enough
     */
    long take(long want) {
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            long len = e.getValue();
            if (len >= want) {
                long off = e.getKey();
                free.remove(off);
                if (len > want) {
                    free.put(off + want, len - want);
                }
                return off;
            }
        }
        return -1;
    }

    /**
     * Returns a range taken earlier, merging it with free neighbours.
     *
     * @param off its offset
     * @param len its length
     */
    void give(long off, long len) {
        Map.Entry<Long, Long> before = free.floorEntry(off);
        if (before != null && before.getKey() + before.getValue() == off) {
            free.remove(before.getKey());
            off = before.getKey();
            len += before.getValue();
        }
        Long after = free.remove(off + len);
        if (after != null) {
            len += after;
        }
        free.put(off, len);
    }
}
