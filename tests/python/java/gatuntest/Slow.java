package gatuntest;

/** Calls that take a while, for the event-loop tests (tests/python/test_async_lanes.py). */
public final class Slow {
    private Slow() {
    }

    /**
     * Returns {@code value} after {@code millis} ms, even if the call is
     * cancelled meanwhile: a late answer that a cancelled caller must drop.
     */
    public static String echoAfter(String value, long millis) {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        boolean interrupted = false;
        long left;
        while ((left = deadline - System.nanoTime()) > 0) {
            try {
                Thread.sleep(Math.max(1, left / 1_000_000L));
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return value;
    }
}
