package gatuntest;

import gatun.server.arrow.ArrowBridge;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;

/** Results built on the bridge's arena allocator or a plain one (tests/python/test_arrow_allocator.py). */
public final class AllocatorOps {
    private static final BufferAllocator PLAIN = new RootAllocator(Long.MAX_VALUE);
    private static VectorSchemaRoot prepared;
    private static BigIntVector kept;

    private AllocatorOps() {
    }

    private static BigIntVector bigints(BufferAllocator a, int n) {
        BigIntVector v = new BigIntVector("x", a);
        v.allocateNew(n);
        for (int i = 0; i < n; i++) {
            if (i % 1000 == 7) {
                v.setNull(i);
            } else {
                v.set(i, i * 3L);
            }
        }
        v.setValueCount(n);
        return v;
    }

    /** A root of {@code n} BIGINTs ({@code i * 3}, null where {@code i % 1000 == 7}) on the bridge's allocator. */
    public static VectorSchemaRoot arenaRoot(int n) {
        return VectorSchemaRoot.of(bigints(ArrowBridge.allocator(), n));
    }

    /** The same on a plain RootAllocator (copied once on export). */
    public static VectorSchemaRoot plainRoot(int n) {
        return VectorSchemaRoot.of(bigints(PLAIN, n));
    }

    /** A plain-allocator root handed off: the bridge closes it once Python has the data. */
    public static ArrowBridge.HandedOff plainHandedOff(int n) {
        return ArrowBridge.handOff(plainRoot(n));
    }

    /** Builds a root now, returned later by {@link #take()} (to time the return alone). */
    public static void prepare(int n, boolean arena) {
        prepared = arena ? arenaRoot(n) : plainRoot(n);
    }

    /** @return the prepared root */
    public static VectorSchemaRoot take() {
        VectorSchemaRoot r = prepared;
        prepared = null;
        return r;
    }

    /** A vector on the bridge's allocator that Java keeps (see {@link #reuseKept()}). */
    public static FieldVector keptVector(int n) {
        kept = bigints(ArrowBridge.allocator(), n);
        return kept;
    }

    /** Reuses the kept vector: refills it with -1. @return its value count afterwards */
    public static int reuseKept(int n) {
        kept.allocateNew(n);
        for (int i = 0; i < n; i++) {
            kept.set(i, -1L);
        }
        kept.setValueCount(n);
        return kept.getValueCount();
    }

    /** Closes the kept vector. */
    public static void closeKept() {
        if (kept != null) {
            kept.close();
            kept = null;
        }
    }

    /** @return ArrowBridge.exportStats(): copied, in place, live regions, arena blocks, fallbacks */
    public static String stats() {
        long[] s = ArrowBridge.exportStats();
        StringBuilder b = new StringBuilder();
        for (long x : s) {
            b.append(b.length() == 0 ? "" : ",").append(x);
        }
        return b.toString();
    }

    /** @return bytes the plain allocator holds */
    public static long plainAllocated() {
        return PLAIN.getAllocatedMemory();
    }

    private static org.apache.arrow.memory.ArrowBuf ballast;

    /** Holds (or, with 0, frees) {@code bytes} of the bridge's allocator, to fill its arena. */
    public static void ballast(long bytes) {
        if (ballast != null) {
            ballast.close();
            ballast = null;
        }
        if (bytes > 0) {
            ballast = ArrowBridge.allocator().buffer(bytes);
        }
    }

    /** @return bytes the bridge's allocator holds */
    public static long bridgeAllocated() {
        return ArrowBridge.allocator().getAllocatedMemory();
    }
}
