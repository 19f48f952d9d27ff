package gatun.server;

import gatun.protocol.Action;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Server-wide counters reported by the GetMetrics action: requests, errors
 * and latency percentiles per action, objects, Arrow bytes each way,
 * callbacks, sessions. Recording a request is a few uncontended adds and one
 * histogram increment; reading is done only by GetMetrics.
 */
public final class Metrics {
    /** Requests handled (batch items count individually). */
    public final LongAdder requests = new LongAdder();
    /** Requests answered with an error. */
    public final LongAdder errors = new LongAdder();
    /** Sessions started since launch. */
    public final AtomicLong sessionsStarted = new AtomicLong();
    /** Items run inside batches. */
    public final LongAdder batchItems = new LongAdder();
    /** Arrow buffer bytes received from Python (every Arrow path). */
    public final LongAdder arrowBytesIn = new LongAdder();
    /** Arrow batches received from Python. */
    public final LongAdder arrowBatchesIn = new LongAdder();
    /** Arrow rows received from Python. */
    public final LongAdder arrowRowsIn = new LongAdder();
    /** Arrow buffer bytes sent to Python. */
    public final LongAdder arrowBytesOut = new LongAdder();
    /** Arrow batches sent to Python. */
    public final LongAdder arrowBatchesOut = new LongAdder();
    /** Arrow rows sent to Python. */
    public final LongAdder arrowRowsOut = new LongAdder();
    /** Python callbacks Java called. */
    public final LongAdder callbacks = new LongAdder();
    /** Python callbacks that failed (raised, or could not run). */
    public final LongAdder callbackErrors = new LongAdder();
    /** Resource limits hit. */
    public final LongAdder limitsExceeded = new LongAdder();
    /** Sessions closed by their idle timeout. */
    public final LongAdder sessionsIdledOut = new LongAdder();

    private final AtomicLong objects = new AtomicLong();
    private final AtomicLong peakObjects = new AtomicLong();
    private final long startNanos = System.nanoTime();

    private final LongAdder[] actionCounts = new LongAdder[Action.names.length];
    private final LongAdder[] actionErrors = new LongAdder[Action.names.length];
    private final LatencyHistogram[] latencies = new LatencyHistogram[Action.names.length];

    /** Creates zeroed counters. */
    public Metrics() {
        for (int i = 0; i < actionCounts.length; i++) {
            actionCounts[i] = new LongAdder();
            actionErrors[i] = new LongAdder();
            latencies[i] = new LatencyHistogram();
        }
    }

    /**
     * One request ran (a batch's items each count once, and the batch too).
     *
     * @param action its action (out-of-range codes are not recorded per action)
     * @param nanos how long it took, or -1: counted but not timed (an item of a batch)
     * @param failed whether it was answered with an error
     */
    public void record(int action, long nanos, boolean failed) {
        if (action < 0 || action >= actionCounts.length) {
            return;
        }
        actionCounts[action].increment();
        if (nanos >= 0) {
            latencies[action].record(nanos);
        }
        if (failed) {
            actionErrors[action].increment();
        }
    }

    /** @return requests recorded for {@code action} */
    public long count(int action) {
        return actionCounts[action].sum();
    }

    /** @param delta objects registered (positive) or released (negative), any session */
    public void objects(long delta) {
        long now = objects.addAndGet(delta);
        long peak = peakObjects.get();
        while (now > peak && !peakObjects.compareAndSet(peak, now)) {
            peak = peakObjects.get();
        }
    }

    /**
     * The report upstream Gatun's GetMetrics gives, in its layout
     * ({@code "=== Gatun Server Metrics ==="}, sections of {@code "  key: value"}
     * lines), with what upstream never filled in actually counted.
     *
     * @param liveSessions sessions live now
     * @param session the asking session's lines (keys and values), appended under "Session:"
     * @return the text
     */
    public String report(long liveSessions, Object... session) {
        StringBuilder s = new StringBuilder(2048);
        double seconds = Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
        long total = requests.sum();
        s.append("=== Gatun Server Metrics ===\n");
        s.append("Global:\n");
        line(s, "total_requests", total);
        line(s, "total_errors", errors.sum());
        line(s, "requests_per_sec", String.format(Locale.ROOT, "%.2f", total / seconds));
        line(s, "current_sessions", liveSessions);
        line(s, "sessions_started", sessionsStarted.get());
        line(s, "sessions_idled_out", sessionsIdledOut.sum());
        line(s, "current_objects", objects.get());
        line(s, "peak_objects", peakObjects.get());
        line(s, "batch_items", batchItems.sum());
        line(s, "limits_exceeded", limitsExceeded.sum());
        s.append("Arrow:\n");
        line(s, "total_rows", arrowRowsIn.sum() + arrowRowsOut.sum());
        line(s, "total_bytes_copied", arrowBytesIn.sum() + arrowBytesOut.sum());
        line(s, "python_to_java_bytes", arrowBytesIn.sum());
        line(s, "python_to_java_batches", arrowBatchesIn.sum());
        line(s, "python_to_java_rows", arrowRowsIn.sum());
        line(s, "java_to_python_bytes", arrowBytesOut.sum());
        line(s, "java_to_python_batches", arrowBatchesOut.sum());
        line(s, "java_to_python_rows", arrowRowsOut.sum());
        s.append("Callbacks:\n");
        line(s, "total_invocations", callbacks.sum());
        line(s, "total_errors", callbackErrors.sum());
        s.append("Actions:\n");
        for (int a = 0; a < actionCounts.length; a++) {
            long n = actionCounts[a].sum();
            if (n == 0) {
                continue;
            }
            LatencyHistogram h = latencies[a];
            s.append("  ").append(Action.name(a)).append(": count=").append(n)
                    .append(" errors=").append(actionErrors[a].sum())
                    .append(" p50_us=").append(micros(h.percentile(50)))
                    .append(" p90_us=").append(micros(h.percentile(90)))
                    .append(" p99_us=").append(micros(h.percentile(99)))
                    .append('\n');
        }
        s.append("Session:\n");
        for (int i = 0; i + 1 < session.length; i += 2) {
            line(s, String.valueOf(session[i]), session[i + 1]);
        }
        return s.toString();
    }

    private static String micros(long nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1000.0);
    }

    private static void line(StringBuilder s, String key, Object value) {
        s.append("  ").append(key).append(": ").append(value).append('\n');
    }
}
