package gatun.spark;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * The JVM-wide registry of Arrow data that Spark tasks reach by id: tables a
 * DataFrame reads in place (local mode) and the per-partition results of a
 * {@code toArrow} job. Task code is serialised, so it cannot carry the data;
 * it carries an id and finds the data here (our classes are loaded once, by the
 * driver's class loader, the parent of local-mode executors' loaders).
 *
 * <p>A table is closed when its DataFrame's plan (its {@link InPlaceTable}) is unreachable, at its
 * SparkContext's end, but never under a running task: tasks hold a lease, and
 * the last lease of a dropped table closes it. A result set is closed when its
 * reader is closed or unreachable; a partition parked twice (a retried or
 * speculative task) keeps the later root and closes the earlier.
 */
final class Parked {
    /** A parked table and the tasks reading it. */
    private static final class Table {
        final VectorSchemaRoot root;
        final String context;
        final long bytes;
        int leases;
        boolean dropped;

        Table(VectorSchemaRoot root, String context) {
            this.root = root;
            this.context = context;
            this.bytes = bytes(root);
        }
    }

    /** The partitions of one toArrow result not yet served. */
    private static final class Result {
        final String context;
        final Map<Integer, List<VectorSchemaRoot>> partitions = new HashMap<>();
        boolean dropped;

        Result(String context) {
            this.context = context;
        }
    }

    /** Runs the release of data whose owner (an RDD, a reader) became unreachable. */
    static final Cleaner CLEANER = Cleaner.create();

    private static final Map<Long, Table> TABLES = new HashMap<>();
    private static final Map<Long, Result> RESULTS = new HashMap<>();
    private static long nextId = 1;

    private Parked() {
    }

    static long bytes(VectorSchemaRoot root) {
        long n = 0;
        for (FieldVector v : root.getFieldVectors()) {
            n += v.getBufferSize();
        }
        return n;
    }

    /**
     * Parks a table; the registry owns it from now on.
     *
     * @param root the table
     * @param context the SparkContext it belongs to ({@link SparkContexts#key})
     * @return its id
     */
    static synchronized long parkTable(VectorSchemaRoot root, String context) {
        long id = nextId++;
        TABLES.put(id, new Table(root, context));
        return id;
    }

    /**
     * Leases a table for a task; {@link #unlease} gives it back.
     *
     * @param id the table's id
     * @return the root, valid until the lease is given back
     * @throws IllegalStateException if the table has been released
     */
    static synchronized VectorSchemaRoot lease(long id) {
        Table t = TABLES.get(id);
        if (t == null || t.dropped) {
            throw new IllegalStateException("gatun.spark: the Arrow table #" + id + " this DataFrame reads in place "
                    + "has been released (its DataFrame became unreachable, or its SparkContext stopped); "
                    + "create the DataFrame again. If this happens on a live DataFrame, gatun's classes were "
                    + "loaded twice: put the gatun jar on the driver's class path (spark.jars)");
        }
        t.leases++;
        return t.root;
    }

    static void unlease(long id) {
        VectorSchemaRoot close = null;
        synchronized (Parked.class) {
            Table t = TABLES.get(id);
            if (t != null && --t.leases == 0 && t.dropped) {
                TABLES.remove(id);
                close = t.root;
            }
        }
        if (close != null) {
            close.close();
        }
    }

    /**
     * Releases a table: closed at once, or by its last running task.
     *
     * @param id the table's id
     */
    static void dropTable(long id) {
        VectorSchemaRoot close = null;
        synchronized (Parked.class) {
            Table t = TABLES.get(id);
            if (t == null || t.dropped) {
                return;
            }
            t.dropped = true;
            if (t.leases == 0) {
                TABLES.remove(id);
                close = t.root;
            }
        }
        if (close != null) {
            close.close();
        }
    }

    /**
     * Opens a result set for a toArrow job.
     *
     * @param context the SparkContext running the job
     * @return its id
     */
    static synchronized long newResult(String context) {
        long id = nextId++;
        RESULTS.put(id, new Result(context));
        return id;
    }

    /**
     * Parks a partition's result, replacing (closing) an earlier attempt's; a
     * result set already released closes it at once.
     *
     * @param resultId the result set
     * @param partition the partition
     * @param batches its rows, in order; the registry owns them from now on
     */
    static void parkResult(long resultId, int partition, List<VectorSchemaRoot> batches) {
        List<VectorSchemaRoot> close;
        synchronized (Parked.class) {
            Result r = RESULTS.get(resultId);
            close = r == null || r.dropped ? batches : r.partitions.put(partition, batches);
        }
        if (close != null) {
            close.forEach(VectorSchemaRoot::close);
        }
    }

    /**
     * Takes a partition's result out of the registry.
     *
     * @param resultId the result set
     * @param partition the partition
     * @return its batches (the caller owns them), or null if none is parked
     */
    static synchronized List<VectorSchemaRoot> takeResult(long resultId, int partition) {
        Result r = RESULTS.get(resultId);
        return r == null ? null : r.partitions.remove(partition);
    }

    /**
     * Releases a result set: closes what was not served, and what a late task
     * attempt parks from now on.
     *
     * @param resultId the result set
     */
    static void dropResult(long resultId) {
        List<VectorSchemaRoot> close;
        synchronized (Parked.class) {
            Result r = RESULTS.remove(resultId);
            if (r == null) {
                return;
            }
            r.dropped = true;
            close = new ArrayList<>();
            r.partitions.values().forEach(close::addAll);
            r.partitions.clear();
        }
        close.forEach(VectorSchemaRoot::close);
    }

    /**
     * Releases everything a SparkContext's DataFrames and jobs parked (it stopped).
     *
     * @param context the SparkContext's key
     */
    static void dropContext(String context) {
        List<Long> tables = new ArrayList<>();
        List<Long> results = new ArrayList<>();
        synchronized (Parked.class) {
            TABLES.forEach((id, t) -> {
                if (t.context.equals(context)) {
                    tables.add(id);
                }
            });
            RESULTS.forEach((id, r) -> {
                if (r.context.equals(context)) {
                    results.add(id);
                }
            });
        }
        tables.forEach(Parked::dropTable);
        results.forEach(Parked::dropResult);
    }

    /** @return tables and result batches parked (a dropped table still leased counts) */
    static synchronized long count() {
        long n = TABLES.size();
        for (Result r : RESULTS.values()) {
            for (List<VectorSchemaRoot> batches : r.partitions.values()) {
                n += batches.size();
            }
        }
        return n;
    }

    /** @return bytes of Arrow buffers parked */
    static synchronized long parkedBytes() {
        long n = 0;
        for (Table t : TABLES.values()) {
            n += t.bytes;
        }
        for (Result r : RESULTS.values()) {
            for (List<VectorSchemaRoot> batches : r.partitions.values()) {
                for (VectorSchemaRoot b : batches) {
                    n += bytes(b);
                }
            }
        }
        return n;
    }
}
