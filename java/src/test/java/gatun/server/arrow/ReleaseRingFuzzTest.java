package gatun.server.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;

import gatun.server.shm.ControlSegment;
import gatun.server.shm.ReleaseRing;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Randomized check of the reader of Python's release ring, bytes Python
 * writes: random entries (unknown, stale or acknowledgement handles, any
 * count) and corrupt head/tail pairs are ignored without an exception, and
 * never free a region Java still shares.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReleaseRingFuzzTest {
    @Test
    void randomRingEntriesAndCountersNeverEscapeTheReader() throws Exception {
        ByteBuffer buf = ByteBuffer.allocateDirect((int) ControlSegment.requiredSize(1, 4096));
        ControlSegment seg = new ControlSegment(buf);
        seg.writeHeader(1, 4096, 1, 1);
        ReleaseRing ring = seg.releaseRing(ControlSegment.RING_PY_TO_JAVA_OFFSET);
        RegionLedger ledger = new RegionLedger(seg, 1 << 20);
        try {
            RegionLedger.Region kept = ledger.allocate(128);
            ledger.addPeerHold(kept); // Python holds it once
            Random rnd = new Random(5);
            long head = 0;
            for (int round = 0; round < 2000; round++) {
                int n = rnd.nextInt(8);
                for (int i = 0; i < n; i++) {
                    long h = rnd.nextInt(4) == 0 ? kept.handle() ^ (1L + rnd.nextInt(0xFFFF)) : rnd.nextLong();
                    ring.write(head + i, h, rnd.nextInt());
                }
                if (rnd.nextInt(50) == 0) {
                    ring.setHead(rnd.nextLong()); // corrupt: not followed
                    ledger.drainRing();
                    ring.setHead(ring.tail());
                    head = ring.tail();
                    continue;
                }
                head += n;
                ring.setHead(head);
                ledger.drainRing(h -> { });
            }
            assertEquals(1, ledger.liveRegions(), "a random notice freed a region Python still holds");
        } finally {
            ledger.close();
        }
    }
}
