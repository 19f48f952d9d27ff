package gatun.server;

import gatun.server.shm.ControlSegment;
import gatun.server.shm.Layout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The doorbell of one lane, Java's half of Rust's {@code doorbell.rs}: the
 * bytes on the lane's socket ({@link Layout#DOORBELL_RING},
 * {@link Layout#DOORBELL_CANCEL}), the waiting and spinning flags in the lane
 * header, the spin-then-park wait for {@code req_seq} to move, and the ring
 * that wakes Python only if it announced it is about to block (SHM_LAYOUT.md,
 * "Doorbell" and "Spinning").
 *
 * <p>A callback lane's owner is an arbitrary user thread that might be
 * interrupted, and an interrupt during a channel write closes the channel, so
 * there a small <b>ringer thread</b> writes the RING bytes; a call lane's
 * worker rings itself (it never has an interrupt pending at that point).
 */
final class Doorbell {
    /** Python to Java: the lane's owner has something to read. Java to Python: an answer is ready. */
    static final byte RING = (byte) Layout.DOORBELL_RING;
    /** Python to Java: cancel the request in {@code cancel_seq}. */
    static final byte CANCEL = (byte) Layout.DOORBELL_CANCEL;
    /** Java to Python, last on the socket: the server stopped. */
    static final byte GOODBYE_STOPPED = (byte) Layout.DOORBELL_GOODBYE_STOPPED;
    /** Java to Python, last on the socket: the session idled out. */
    static final byte GOODBYE_IDLE = (byte) Layout.DOORBELL_GOODBYE_IDLE;

    private static final long SPIN_NANOS = 100_000;
    /**
     * After this long the spinning worker yields its core between checks:
     * when the scheduler has put it on the same core as the Python caller (it
     * does, now and then, with few cores), a pure spin keeps Python from
     * sending the request it waits for until the spin ends.
     */
    private static final long YIELD_AFTER_NANOS = 5_000;
    /**
     * A yield that takes this long ran another thread on this core. While the
     * worker shares its core with the Python caller (until the scheduler moves
     * one of them, often milliseconds), every spin before a yield is time
     * Python cannot run; so after a wait that gave the core away the worker
     * yields at once, and a yield that returns at once brings the spin back.
     */
    private static final long YIELD_GAVE_CORE_NANOS = 2_000;
    /** One RING byte per ringing thread, rewound before each write. */
    private static final ThreadLocal<ByteBuffer> RING_BYTE =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(1).put(0, RING));

    private final ControlSegment seg;
    private final int lane;
    private final SocketChannel channel;
    /** Called once a RING write fails while the doorbell is not stopped. */
    private final java.util.function.Consumer<String> onFailure;
    private final AtomicBoolean ringPending = new AtomicBoolean();
    /** The thread that writes RING bytes for a callback lane's owner; null on a call lane. */
    private volatile Thread ringer;
    private volatile boolean stopped;
    /** The last spinning wait gave the core away (see YIELD_GAVE_CORE_NANOS); owner thread only. */
    private boolean sharingCore;

    /**
     * @param seg the control segment
     * @param lane the lane index
     * @param channel the lane's socket
     * @param onFailure told why, when ringing Python failed (the session ends)
     */
    Doorbell(ControlSegment seg, int lane, SocketChannel channel, java.util.function.Consumer<String> onFailure) {
        this.seg = seg;
        this.lane = lane;
        this.channel = channel;
        this.onFailure = onFailure;
    }

    /** @param ringer the thread that will run {@link #runRinger} (callback lanes) */
    void useRinger(Thread ringer) {
        this.ringer = ringer;
    }

    /** Stops waits and the ringer. */
    void stop() {
        stopped = true;
        Thread r = ringer;
        if (r != null) {
            LockSupport.unpark(r);
        }
    }

    /** The ringer thread's loop: writes one RING byte per pending ring until stopped. */
    void runRinger() {
        while (!stopped) {
            if (ringPending.getAndSet(false)) {
                writeRing();
            } else {
                LockSupport.park(this);
            }
        }
    }

    /**
     * Notify steps 2-3: rings Python only if it announced it is about to block
     * (CAS {@code py_waiting} 1 -&gt; 0).
     *
     * @param mayWrite whether the calling thread may write the socket itself (a
     *     call lane's worker); else the ringer writes
     */
    void ringPython(boolean mayWrite) {
        if (!seg.takePyWaiting(lane)) {
            return;
        }
        if (mayWrite) {
            writeRing();
        } else {
            ringPending.set(true);
            LockSupport.unpark(ringer);
        }
    }

    private void writeRing() {
        // The worker and the ringer both ring, so each thread keeps its own buffer.
        ByteBuffer ring = RING_BYTE.get().clear();
        try {
            while (ring.hasRemaining()) {
                channel.write(ring);
            }
        } catch (IOException e) {
            if (!stopped) {
                ServerLog.LOG.warning("lane " + lane + ": doorbell write failed: " + e);
                onFailure.accept("lane " + lane + ": doorbell write failed: " + e);
            }
        }
    }

    /**
     * Waits until {@code req_seq} moves past {@code last}: spins about 100 µs
     * first when {@code hot} (announcing it in {@code jvm_spinning}), then
     * sets {@code jvm_waiting}, re-checks and parks until the I/O thread
     * unparks it on a RING byte.
     *
     * @param last the last req_seq seen
     * @param hot whether the lane recently had work (spin before parking)
     * @param onInterrupt run when a park ended with the thread's interrupt status set (cleared)
     * @return the new req_seq, or {@code last} if the doorbell stopped first
     */
    long awaitRequest(long last, boolean hot, Runnable onInterrupt) {
        if (hot) {
            seg.setJvmSpinning(lane, 1);
            long start = System.nanoTime();
            boolean gaveCore = false;
            try {
                long spun;
                do {
                    long s = seg.requestSeq(lane);
                    if (s != last) {
                        return s;
                    }
                    spun = System.nanoTime() - start;
                    if (spun < YIELD_AFTER_NANOS && !sharingCore) {
                        Thread.onSpinWait();
                    } else {
                        long before = System.nanoTime();
                        Thread.yield(); // see YIELD_AFTER_NANOS
                        gaveCore |= System.nanoTime() - before >= YIELD_GAVE_CORE_NANOS;
                    }
                } while (spun < SPIN_NANOS);
            } finally {
                sharingCore = gaveCore;
                seg.setJvmSpinning(lane, 0);
            }
        }
        while (!stopped) {
            long s = seg.requestSeq(lane);
            if (s != last) {
                return s;
            }
            seg.setJvmWaiting(lane, 1);
            s = seg.requestSeq(lane);
            if (s != last) {
                // If this CAS fails Python took the flag and a RING byte is on its way:
                // a harmless spurious unpark later.
                seg.takeJvmWaiting(lane);
                return s;
            }
            LockSupport.park(this);
            seg.takeJvmWaiting(lane);
            if (Thread.interrupted()) {
                onInterrupt.run();
            }
        }
        return last;
    }
}
