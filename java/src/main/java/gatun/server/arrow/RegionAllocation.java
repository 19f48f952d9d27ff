package gatun.server.arrow;

import gatun.server.shm.SegmentMapping;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.arrow.memory.ForeignAllocation;

/**
 * One region of a peer's segment wrapped as an Arrow allocation. It holds the
 * segment's mapping strongly (the mapping must outlive every {@code ArrowBuf}
 * over it) and, when Arrow releases it, queues exactly one
 * {@code Release(handle, 1)} for the owner.
 */
final class RegionAllocation extends ForeignAllocation {
    private final SegmentMapping mapping;
    private final long handle;
    private final ReleaseQueue queue;
    private final AtomicBoolean released = new AtomicBoolean();

    RegionAllocation(SegmentMapping mapping, long offset, long length, long handle, ReleaseQueue queue) {
        super(length, mapping.address() + offset);
        this.mapping = mapping;
        this.handle = handle;
        this.queue = queue;
    }

    /** @return the mapping this region lies in */
    SegmentMapping mapping() {
        return mapping;
    }

    /** Queues the Release notice once, however often it is called. */
    void releaseOnce() {
        if (released.compareAndSet(false, true)) {
            queue.add(handle, 1);
        }
    }

    @Override
    protected void release0() {
        // Any thread; never blocks: the lane worker moves the notice onto the ring.
        releaseOnce();
    }
}
