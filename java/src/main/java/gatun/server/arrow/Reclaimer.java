package gatun.server.arrow;

import java.lang.ref.Cleaner;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Gives back the shared memory of Arrow data that became unreachable in the
 * JVM without being closed.
 *
 * <p>Arrow data the JVM received or built on {@link ArrowBridge#allocator()}
 * stays valid for as long as Java references it: the bridge never closes a
 * root behind Java's back (a root in a list, a field or another thread is
 * still in use). Its memory comes back when Java closes it, or — registered
 * here — once the garbage collector finds its allocation unreachable, like a
 * direct {@code ByteBuffer}'s. Under pressure (Python's arena or the JVM's
 * above their high-water marks) a collection is requested in the background
 * ({@link #nudge()}), and Python can ask for one and wait for it
 * ({@link #collect(long)}, {@code client.gc()}).
 *
 * <p>Arrow's debug allocator (enabled by {@code -ea} or
 * {@code -Darrow.memory.debug.allocator=true}) keeps every live allocation
 * reachable, so with it only {@code close()} gives memory back.
 */
final class Reclaimer {
    private static final Cleaner CLEANER = Cleaner.create(r -> {
        Thread t = new Thread(r, "gatun-arrow-reclaimer");
        t.setDaemon(true);
        return t;
    });

    /** Allocations the collector found unreachable and whose memory was given back here. */
    private static final AtomicLong RECLAIMED = new AtomicLong();
    /** Background collections requested and not yet started. */
    private static final AtomicBoolean NUDGED = new AtomicBoolean();
    /** When the last background collection started (nanoTime). */
    private static volatile long lastNudge = System.nanoTime() - TimeUnit.SECONDS.toNanos(10);
    /** At most one background collection per this interval. */
    private static final long NUDGE_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private Reclaimer() {
    }

    /**
     * Runs {@code free} once: when the returned handle is cleaned (the
     * allocation was closed), or when {@code owner} becomes unreachable.
     * {@code free} must not refer to {@code owner}.
     *
     * @param owner the allocation
     * @param free gives its memory back
     * @return the handle to clean on close
     */
    static Cleaner.Cleanable register(Object owner, Runnable free) {
        Once once = new Once(free);
        Cleaner.Cleanable c = CLEANER.register(owner, once);
        return () -> {
            once.closed = true;
            c.clean();
        };
    }

    /** @return allocations whose memory the collector gave back (JVM-wide) */
    static long reclaimed() {
        return RECLAIMED.get();
    }

    /**
     * Asks for a collection in the background (at most one per half second),
     * because an arena is filling up; never blocks.
     */
    static void nudge() {
        long now = System.nanoTime();
        if (now - lastNudge < NUDGE_INTERVAL_NANOS || !NUDGED.compareAndSet(false, true)) {
            return;
        }
        lastNudge = now;
        Thread t = new Thread(() -> {
            try {
                System.gc();
            } finally {
                NUDGED.set(false);
            }
        }, "gatun-arrow-gc");
        t.setDaemon(true);
        t.start();
    }

    /**
     * Runs a collection and waits (at most {@code timeoutMillis}) until the
     * allocations it found unreachable have given their memory back.
     *
     * @param timeoutMillis the longest wait
     * @return allocations given back during the call
     * @throws InterruptedException if interrupted while waiting
     */
    static long collect(long timeoutMillis) throws InterruptedException {
        long before = RECLAIMED.get();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        // Two rounds: cleaning can make more allocations unreachable (a region's
        // release drops the last reference to its mapping's holders).
        for (int round = 0; round < 2; round++) {
            CountDownLatch done = new CountDownLatch(1);
            registerSentinel(done);
            System.gc();
            long left = deadline - System.nanoTime();
            if (left <= 0 || !done.await(left, TimeUnit.NANOSECONDS)) {
                break;
            }
        }
        return RECLAIMED.get() - before;
    }

    /** A sentinel that becomes unreachable at once: its cleaning marks the collector's work as processed. */
    private static void registerSentinel(CountDownLatch done) {
        CLEANER.register(new Object(), done::countDown);
    }

    /** Runs the free action once, counting a run the collector triggered. */
    private static final class Once implements Runnable {
        private final Runnable free;
        volatile boolean closed;

        Once(Runnable free) {
            this.free = free;
        }

        @Override
        public void run() {
            if (!closed) {
                RECLAIMED.incrementAndGet();
            }
            free.run();
        }
    }
}
