package gatun.server;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Server-wide counters reported by the GetMetrics action. */
public final class Metrics {
    /** Requests handled (batch items count individually). */
    public final LongAdder requests = new LongAdder();
    /** Requests answered with an error. */
    public final LongAdder errors = new LongAdder();
    /** Sessions started since launch. */
    public final AtomicLong sessionsStarted = new AtomicLong();
}
