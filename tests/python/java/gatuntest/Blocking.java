package gatuntest;

import gatun.server.GatunServer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Calls that run until they are cancelled, for tests/python/test_cancel.py:
 * a cancel is the only thing that ends {@link #untilInterrupted}, so a test
 * needs no timing to know the call is still running when it cancels it.
 */
public final class Blocking {
    private static final AtomicInteger STEPS = new AtomicInteger();
    private static final AtomicInteger INTERRUPTED = new AtomicInteger();

    private Blocking() {
    }

    /** Sets the counters back to zero. */
    public static void reset() {
        STEPS.set(0);
        INTERRUPTED.set(0);
    }

    /**
     * Blocks until the thread is interrupted (a cancel from Python), counts
     * the interrupt, and throws it on.
     *
     * @throws InterruptedException always, once interrupted
     */
    public static void untilInterrupted() throws InterruptedException {
        try {
            Thread.sleep(Long.MAX_VALUE);
        } catch (InterruptedException e) {
            INTERRUPTED.incrementAndGet();
            throw e;
        }
    }

    /**
     * Busy until the call is cancelled, swallowing the interrupt as careless
     * code does: only {@link GatunServer#isCancelled()} tells it to stop.
     */
    public static void untilCancelledIgnoringInterrupts() {
        while (!GatunServer.isCancelled()) {
            Thread.interrupted();
            Thread.onSpinWait();
        }
        Thread.interrupted();
        INTERRUPTED.incrementAndGet();
    }

    /**
     * A batch item: counts that it ran, then takes {@code millis} ms.
     *
     * @param millis how long it sleeps
     * @throws InterruptedException if cancelled while it sleeps
     */
    public static void step(long millis) throws InterruptedException {
        STEPS.incrementAndGet();
        Thread.sleep(millis);
    }

    /** @return how many {@link #step} calls ran since {@link #reset} */
    public static int steps() {
        return STEPS.get();
    }

    /** @return how many {@link #untilInterrupted} calls were interrupted since {@link #reset} */
    public static int interrupted() {
        return INTERRUPTED.get();
    }

    /**
     * What upstream's server throws for a cancelled request.
     *
     * @param requestId the request id named in the message
     * @throws InterruptedException always
     */
    public static void throwCancelled(long requestId) throws InterruptedException {
        throw new InterruptedException("Request " + requestId + " was cancelled");
    }
}
