package gatun.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The percentile maths of {@link LatencyHistogram}: bucket bounds, ranks, resolution. */
class LatencyHistogramTest {

    @Test
    void emptyReportsZero() {
        LatencyHistogram h = new LatencyHistogram();
        assertEquals(0, h.count());
        assertEquals(0, h.percentile(50));
        assertEquals(0, h.percentile(99));
    }

    @Test
    void oneSampleIsEveryPercentile() {
        // Upstream rounded the rank down: one 34 ms call reported p50 = 10 us.
        LatencyHistogram h = new LatencyHistogram();
        h.record(34_000_000);
        for (double p : new double[] {1, 50, 90, 99, 100}) {
            long v = h.percentile(p);
            assertTrue(v >= 34_000_000 && v <= 34_000_000 * 17 / 16, p + " -> " + v);
        }
    }

    @Test
    void smallValuesAreExact() {
        LatencyHistogram h = new LatencyHistogram();
        for (int v = 0; v < 16; v++) {
            h.record(v);
        }
        assertEquals(7, h.percentile(50)); // rank 8 of 16
        assertEquals(15, h.percentile(100));
        assertEquals(0, h.percentile(1)); // rank 1
    }

    @Test
    void percentilesOfAUniformRangeAreWithinOneSixteenth() {
        LatencyHistogram h = new LatencyHistogram();
        for (long us = 1; us <= 1000; us++) {
            h.record(us * 1000);
        }
        assertEquals(1000, h.count());
        for (double p : new double[] {50, 90, 99, 99.9}) {
            long truth = (long) Math.ceil(p / 100 * 1000) * 1000;
            long got = h.percentile(p);
            assertTrue(got >= truth && got <= truth + truth / 16, p + ": " + got + " vs " + truth);
        }
    }

    @Test
    void rankRoundsUpNotDown() {
        LatencyHistogram h = new LatencyHistogram();
        h.record(10);
        h.record(1_000_000);
        h.record(1_000_000);
        // rank ceil(0.5 * 3) = 2: the second sample, not the first
        assertTrue(h.percentile(50) >= 1_000_000);
        // rank ceil(0.33 * 3) = 1
        assertEquals(10, h.percentile(33));
    }

    @Test
    void bucketsCoverEveryLongAndAreOrdered() {
        long prev = -1;
        for (int i = 0; i < LatencyHistogram.BUCKETS; i++) {
            long hi = LatencyHistogram.highest(i);
            assertTrue(hi > prev, "bucket " + i);
            prev = hi;
        }
        assertEquals(Long.MAX_VALUE, prev);
        for (long v : new long[] {0, 1, 15, 16, 17, 31, 32, 33, 1000, 123_456_789, Long.MAX_VALUE}) {
            int i = LatencyHistogram.index(v);
            assertTrue(v <= LatencyHistogram.highest(i), "value " + v);
            assertTrue(i == 0 || v > LatencyHistogram.highest(i - 1), "value " + v);
        }
        LatencyHistogram h = new LatencyHistogram();
        h.record(-5); // a clock step back counts as 0
        assertEquals(0, h.percentile(50));
    }
}
