package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Spark DataFrames from Arrow data and back, the JVM half of Python's
 * {@code gatun.spark}.
 *
 * <p><b>Local mode</b> ({@code SparkContext.isLocal()}: tasks run in this JVM):
 * {@link #createDataFrame(SparkSession, VectorSchemaRoot, int)} parks the table
 * and its tasks read the columns in place; {@link #toArrow} has each task write
 * its rows with Spark's {@code ArrowWriter} into vectors on
 * {@link ArrowBridge#allocator()}, so Python receives them without a copy.
 * When the plan yields columns (a Parquet or ORC scan, a cached DataFrame),
 * tasks copy those column by column instead, skipping Spark's rows.
 * <b>Cluster mode</b> (executors in other JVMs): data travels as Arrow IPC
 * messages through Spark's own Arrow paths, and results are loaded into the
 * bridge's arena in partition order.
 *
 * <p><b>Lifetime.</b> A DataFrame read in place stays valid while it is
 * referenced (re-executed, cached, its tasks retried); the table is closed once
 * the DataFrame's plan is unreachable, or when its SparkContext stops. A task
 * that finds its table gone fails with a message saying so. Results of
 * {@link #toArrow} not yet read are released when the reader is closed or
 * unreachable. {@link #parkedTables()} and {@link #parkedBytes()} show what is
 * held.
 *
 * <p><b>Types</b>: what Spark's Arrow conversion supports (booleans, integers,
 * floats, decimals up to 38 digits, strings and binaries, large or not, dates,
 * microsecond timestamps with and without a zone, day-time intervals, lists,
 * maps, structs, nested, nulls). Any other column is an error naming it.
 *
 * <p>Needs Spark 4 ({@code org.apache.spark.sql.classic}); this class and its
 * package load Spark only when used, so the server jar runs without Spark.
 */
public final class SparkBridge {
    private SparkBridge() {
    }

    /**
     * A DataFrame over an Arrow table. Takes ownership of {@code root} (closes
     * it when done, and on error).
     *
     * @param session the session
     * @param root the table
     * @param numPartitions partitions; 0 or less for automatic (about the
     *     cores, fewer for a small table)
     * @return the DataFrame
     * @throws IllegalArgumentException naming a column Spark cannot represent
     */
    public static Dataset<Row> createDataFrame(SparkSession session, VectorSchemaRoot root, int numPartitions) {
        org.apache.spark.sql.classic.SparkSession s;
        try {
            s = classic(session);
        } catch (RuntimeException e) {
            root.close();
            throw e;
        }
        if (s.sparkContext().isLocal()) {
            return InPlaceScan.create(s, root, numPartitions);
        }
        return IpcFrames.fromRoot(s, root, numPartitions);
    }

    /**
     * A DataFrame over a stream of Arrow batches, possibly larger than the
     * arena: each batch is serialised to heap bytes as it is read (its shared
     * memory released batch by batch). Takes ownership of {@code reader}
     * (reads it to the end and closes it).
     *
     * @param session the session
     * @param reader the stream
     * @param numPartitions partitions; 0 or less for Spark's choice (one per
     *     message of up to 32 MiB above Spark's local-relation threshold)
     * @return the DataFrame
     * @throws IllegalArgumentException naming a column Spark cannot represent
     */
    public static Dataset<Row> createDataFrame(SparkSession session, ArrowReader reader, int numPartitions) {
        org.apache.spark.sql.classic.SparkSession s;
        try {
            s = classic(session);
        } catch (RuntimeException e) {
            try {
                reader.close();
            } catch (java.io.IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return IpcFrames.fromReader(s, reader, numPartitions);
    }

    /**
     * Returns a reader serving the DataFrame's partitions in order, computed
     * by one job that starts by the first read (a failure of that job is
     * thrown by the read, and kept: {@link #failureOf}); its batches cross to
     * Python in place.
     * Results not yet read are released when the reader is closed or
     * unreachable.
     *
     * @param df the DataFrame
     * @return the reader (its schema is Spark's Arrow schema for {@code df},
     *     in the session time zone, with large strings and binaries when
     *     {@code spark.sql.execution.arrow.useLargeVarTypes} is set)
     */
    public static ArrowReader toArrow(Dataset<?> df) {
        return read(classic(df), false);
    }

    /**
     * Like {@link #toArrow}, but lazy: a partition is computed when the reader
     * reaches it (one job each), so memory stays bounded by a partition.
     *
     * @param df the DataFrame
     * @return the reader
     */
    public static ArrowReader toArrowReader(Dataset<?> df) {
        return read(classic(df), true);
    }

    /**
     * The exception a result's Spark job failed with, once reading the
     * reader of {@link #toArrow} or {@link #toArrowReader} failed because of
     * it: the exception Spark's own {@code collect} would have thrown, which
     * Python turns into PySpark's.
     *
     * @param reader a reader this class returned
     * @return the job's exception, or null if its job has not failed (or
     *     {@code reader} is not one of this class's)
     */
    public static Throwable failureOf(ArrowReader reader) {
        return reader instanceof PartitionReader r ? r.failure() : null;
    }

    /** Planning runs jobs too (adaptive execution's shuffle stages): an interrupted caller cancels them all. */
    private static ArrowReader read(org.apache.spark.sql.classic.Dataset<?> d, boolean lazy) {
        org.apache.spark.SparkContext sc = d.sparkSession().sparkContext();
        return SparkJobs.cancellable(sc, () -> sc.isLocal() ? LocalResults.read(d, lazy) : ClusterResults.read(d, lazy));
    }

    /**
     * Counts the Arrow data this JVM holds for Spark: tables that DataFrames
     * read in place, kept until their DataFrame is unreachable (or its
     * SparkContext stops), and result batches of {@link #toArrow} not yet
     * served, kept until their reader is closed or unreachable. A count that
     * stays up points at a DataFrame or a reader kept alive.
     *
     * @return Arrow tables and result batches held for Spark tasks and readers, JVM-wide
     */
    public static long parkedTables() {
        return Parked.count();
    }

    /**
     * Sums the size of what {@link #parkedTables()} counts: the memory those
     * tables and batches keep from being freed.
     *
     * @return bytes of the Arrow buffers {@link #parkedTables()} counts
     */
    public static long parkedBytes() {
        return Parked.parkedBytes();
    }

    private static org.apache.spark.sql.classic.SparkSession classic(SparkSession session) {
        if (session instanceof org.apache.spark.sql.classic.SparkSession s) {
            return s;
        }
        throw new IllegalArgumentException("gatun.spark needs a classic SparkSession (Spark 4, not Spark Connect); got "
                + (session == null ? "null" : session.getClass().getName()));
    }

    private static org.apache.spark.sql.classic.Dataset<?> classic(Dataset<?> df) {
        if (df instanceof org.apache.spark.sql.classic.Dataset<?> d) {
            return d;
        }
        throw new IllegalArgumentException("gatun.spark needs a classic Dataset (Spark 4, not Spark Connect); got "
                + (df == null ? "null" : df.getClass().getName()));
    }
}
