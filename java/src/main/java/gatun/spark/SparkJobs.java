package gatun.spark;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.spark.SparkContext;

/**
 * Runs the bridge's Spark jobs so that an interrupted caller stops them.
 *
 * <p>Spark's {@code runJob} gives up waiting when its thread is interrupted
 * (Ctrl-C in Python interrupts the bridge thread that serves the call), but
 * the job and its tasks keep running. Here each job carries a tag of its
 * own and asks for its task threads to be interrupted on cancel; an
 * interrupted wait cancels the tagged jobs before the interruption goes on.
 * Tags add to the thread's, so a caller's own job group is left alone.
 */
final class SparkJobs {
    private static final String INTERRUPT_ON_CANCEL = "spark.job.interruptOnCancel";
    private static final AtomicLong NEXT = new AtomicLong();

    private SparkJobs() {
    }

    /**
     * @param sc the context the job runs in
     * @param job the code that runs it (on this thread)
     * @param <T> its result
     * @return what {@code job} returned
     */
    static <T> T cancellable(SparkContext sc, Supplier<T> job) {
        String tag = "gatun-spark-" + NEXT.incrementAndGet();
        String interrupt = sc.getLocalProperty(INTERRUPT_ON_CANCEL);
        sc.addJobTag(tag);
        sc.setInterruptOnCancel(true);
        try {
            return job.get();
        } catch (Throwable e) {
            if (interrupted(e) && !sc.isStopped()) {
                sc.cancelJobsWithTag(tag);
            }
            throw e;
        } finally {
            sc.removeJobTag(tag);
            sc.setLocalProperty(INTERRUPT_ON_CANCEL, interrupt);
        }
    }

    /** Whether {@code e} is, or was caused by, an interruption of this thread. */
    static boolean interrupted(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof InterruptedException || t instanceof java.io.InterruptedIOException) {
                return true;
            }
        }
        return Thread.currentThread().isInterrupted();
    }
}
