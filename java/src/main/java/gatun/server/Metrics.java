package gatun.server;

import java.util.concurrent.atomic.AtomicLong;

/** Server-wide counters reported by the GetMetrics action. */
public final class Metrics {
    /** Requests handled (batch items count individually). */
    public final AtomicLong requests = new AtomicLong();
    /** Requests answered with an error. */
    public final AtomicLong errors = new AtomicLong();
    /** Sessions started since launch. */
    public final AtomicLong sessionsStarted = new AtomicLong();
}
