package gatun.server.arrow;

import gatun.server.shm.Segment;
import java.lang.ref.Cleaner;
import org.apache.arrow.memory.ForeignAllocation;

/**
 * One region of a peer's segment wrapped as an Arrow allocation. It holds the
 * segment's mapping strongly (the mapping must outlive every {@code ArrowBuf}
 * over it) and queues exactly one {@code Release(handle, 1)} for the owner:
 * when Arrow releases it (every buffer over it closed), or when the garbage
 * collector finds it unreachable without that having happened
 * ({@link Reclaimer}).
 */
final class RegionAllocation extends ForeignAllocation {
    private final Segment mapping;
    private final Cleaner.Cleanable release;

    RegionAllocation(Segment mapping, long offset, long length, long handle, RegionReleases releases) {
        this(mapping, offset, length, handle, releases, null);
    }

    /**
     * @param released told the region's length when it is released (the session's Arrow quota), or null
     */
    RegionAllocation(Segment mapping, long offset, long length, long handle, RegionReleases releases,
                     java.util.function.LongConsumer released) {
        super(length, mapping.address() + offset);
        this.mapping = mapping;
        this.release = Reclaimer.register(this, new Release(releases, handle, length, released));
    }

    /** @return the mapping this region lies in */
    Segment mapping() {
        return mapping;
    }

    /** Queues the Release notice once, however often it is called. */
    void releaseOnce() {
        release.clean();
    }

    @Override
    protected void release0() {
        // Any thread; never blocks: the lane worker moves the notice onto the ring.
        releaseOnce();
    }

    /** The notice, queued once; refers to nothing that keeps the allocation reachable. */
    private record Release(RegionReleases releases, long handle, long length,
                           java.util.function.LongConsumer released) implements Runnable {
        @Override
        public void run() {
            releases.add(handle, 1);
            if (released != null) {
                released.accept(length);
            }
        }
    }
}
