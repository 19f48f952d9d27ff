package gatun.server;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Latencies in nanoseconds, counted in log-linear buckets (as HdrHistogram
 * does): values below 16 exactly, above that 16 buckets per power of two, so
 * a reported percentile is at most 1/16 (6.25 %) above the true sample.
 * Recording is one atomic increment; reading walks about a thousand counters.
 */
public final class LatencyHistogram {
    /** Sub-buckets per power of two, as a power of two. */
    private static final int SUB_BITS = 4;
    private static final int SUB = 1 << SUB_BITS;
    /** Enough buckets for any non-negative long. */
    static final int BUCKETS = (64 - SUB_BITS) * SUB;

    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);

    /**
     * @param nanos a latency (negative counts as 0)
     */
    public void record(long nanos) {
        counts.incrementAndGet(index(Math.max(0, nanos)));
    }

    /** @return samples recorded */
    public long count() {
        long n = 0;
        for (int i = 0; i < BUCKETS; i++) {
            n += counts.get(i);
        }
        return n;
    }

    /**
     * The smallest bucket bound at or above which {@code p} percent of the
     * samples lie: the sample of rank {@code ceil(p/100 * count)} (at least
     * the first), reported as the highest value of its bucket.
     *
     * @param p a percentile, 0 &lt; p &lt;= 100
     * @return nanoseconds, or 0 without samples
     */
    public long percentile(double p) {
        long[] snapshot = new long[BUCKETS];
        long total = 0;
        for (int i = 0; i < BUCKETS; i++) {
            snapshot[i] = counts.get(i);
            total += snapshot[i];
        }
        if (total == 0) {
            return 0;
        }
        long rank = Math.max(1, (long) Math.ceil(p / 100.0 * total));
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += snapshot[i];
            if (seen >= rank) {
                return highest(i);
            }
        }
        return highest(BUCKETS - 1);
    }

    /** The bucket of a non-negative value. */
    static int index(long v) {
        if (v < SUB) {
            return (int) v;
        }
        int exp = 63 - Long.numberOfLeadingZeros(v); // >= SUB_BITS
        int sub = (int) (v >>> (exp - SUB_BITS)) & (SUB - 1);
        return (exp - SUB_BITS + 1) * SUB + sub;
    }

    /** The highest value bucket {@code i} holds. */
    static long highest(int i) {
        if (i < SUB) {
            return i;
        }
        int exp = i / SUB + SUB_BITS - 1;
        long sub = i % SUB;
        long lowest = (SUB + sub) << (exp - SUB_BITS);
        long width = 1L << (exp - SUB_BITS);
        return lowest + width - 1 < 0 ? Long.MAX_VALUE : lowest + width - 1;
    }
}
