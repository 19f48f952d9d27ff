package gatun.server.arrow;

import gatun.server.shm.ControlSegment;
import gatun.server.shm.ReleaseRing;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Release notices for Python's regions, produced on any thread and moved onto
 * the Java -&gt; Python release ring by the lane workers (one at a time).
 */
final class RegionReleases {
    private record Notice(long handle, int count) {
    }

    private final ConcurrentLinkedQueue<Notice> pending = new ConcurrentLinkedQueue<>();
    private final ControlSegment seg;
    private final Object ringLock = new Object();

    /** @param seg the control segment holding the ring (null: notices are only counted, for tests) */
    RegionReleases(ControlSegment seg) {
        this.seg = seg;
    }

    /** Queues a notice; never blocks. */
    void add(long handle, int count) {
        pending.add(new Notice(handle, count));
    }

    /** @return notices not yet on the ring */
    int pending() {
        return pending.size();
    }

    /**
     * Moves queued notices onto the ring until it is full (the rest waits for
     * the next call). Single producer: serialised by a lock.
     *
     * @return notices moved
     */
    int flush() {
        if (pending.isEmpty() || seg == null) {
            return 0;
        }
        int ring = ControlSegment.RING_JAVA_TO_PY_OFFSET;
        synchronized (ringLock) {
            long head = seg.releaseRing(ring).head();
            long tail = seg.releaseRing(ring).tail();
            if (Long.compareUnsigned(tail, head) > 0 || Long.compareUnsigned(head - tail, ReleaseRing.CAPACITY) > 0) {
                return 0; // corrupt: do not follow
            }
            int moved = 0;
            while (head - tail < ReleaseRing.CAPACITY) {
                Notice n = pending.poll();
                if (n == null) {
                    break;
                }
                seg.releaseRing(ring).write(head, n.handle, n.count);
                head++;
                moved++;
            }
            if (moved > 0) {
                seg.releaseRing(ring).setHead(head);
            }
            return moved;
        }
    }
}
