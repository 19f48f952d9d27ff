package gatuntest;

import gatun.server.arrow.ArrowBridge;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;

/** JVM code that keeps Arrow data Python sent or it built (tests/python/test_arrow_ownership.py). */
public final class Keeper {
    private static volatile VectorSchemaRoot kept;
    private static final List<VectorSchemaRoot> MANY = new ArrayList<>();
    private static VectorSchemaRoot producer;

    private Keeper() {
    }

    /** Keeps {@code root} in a static field (the caller's reference may go). */
    public static void keep(VectorSchemaRoot root) {
        kept = root;
    }

    /** @return the kept root (returned to Python by value, every time) */
    public static VectorSchemaRoot kept() {
        return kept;
    }

    /** @return the kept root's first column summed, read in Java */
    public static long keptSum() {
        BigIntVector v = (BigIntVector) kept.getVector(0);
        long s = 0;
        for (int i = 0; i < kept.getRowCount(); i++) {
            if (!v.isNull(i)) {
                s += v.get(i);
            }
        }
        return s;
    }

    /** Keeps one more root in a list. */
    public static synchronized void add(VectorSchemaRoot root) {
        MANY.add(root);
    }

    /** @return how many roots are kept in the list */
    public static synchronized int count() {
        return MANY.size();
    }

    /** Drops every kept root without closing it (the collector gives the memory back). */
    public static synchronized void forget() {
        kept = null;
        MANY.clear();
    }

    /** Closes every kept root (memory back at once). */
    public static synchronized void closeAll() {
        if (kept != null) {
            kept.close();
        }
        for (VectorSchemaRoot r : MANY) {
            r.close();
        }
        forget();
    }

    /** Builds a root of {@code n} BIGINTs ({@code i + base}) on the bridge allocator and keeps it. */
    public static VectorSchemaRoot build(int n, long base) {
        BigIntVector v = new BigIntVector("x", ArrowBridge.allocator());
        v.allocateNew(n);
        for (int i = 0; i < n; i++) {
            v.set(i, i + base);
        }
        v.setValueCount(n);
        kept = VectorSchemaRoot.of(v);
        return kept;
    }

    /**
     * A producer that reuses one root: refills it with {@code n} values
     * ({@code i * round}) and hands the data off to Python.
     */
    public static ArrowBridge.HandedOff produce(int n, long round) {
        if (producer == null) {
            producer = VectorSchemaRoot.of(new BigIntVector("x", ArrowBridge.allocator()));
        }
        BigIntVector v = (BigIntVector) producer.getVector(0);
        v.allocateNew(n);
        for (int i = 0; i < n; i++) {
            v.set(i, i * round);
        }
        v.setValueCount(n);
        producer.setRowCount(n);
        return ArrowBridge.handOff(producer);
    }
}
