package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.classic.Dataset;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.columnar.CachedBatch;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.arrow.ArrowWriter;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * Local mode's toArrow: each task writes its partition's rows with Spark's
 * {@link ArrowWriter} straight into vectors on {@link ArrowBridge#allocator()}
 * (shared memory) and parks the root ({@link Parked}); the driver's reader
 * serves the roots in partition order, and Python receives them in place.
 * When the plan yields Spark's columnar batches (a Parquet or ORC scan, a
 * columnar cache), tasks copy those instead ({@link ColumnarCopy}), skipping
 * Spark's conversion to rows and back.
 */
final class LocalResults {
    /**
     * Rows per batch a task writes: vectors that grow a batch at a time stay in
     * cache and are never copied far (a whole partition in one batch was
     * reallocated and copied as it doubled).
     */
    static final int ROWS_PER_BATCH = Integer.getInteger("gatun.spark.rowsPerBatch", 1 << 18);

    private LocalResults() {
    }

    /**
     * @param df the DataFrame (its session runs in local mode)
     * @param lazy one job per partition, as the reader asks (memory bounded),
     *     rather than one job for all at the first read
     * @return the reader
     */
    static ArrowReader read(Dataset<?> df, boolean lazy) {
        SparkSession session = df.sparkSession();
        StructType schema = df.schema();
        String tz = SparkSchemas.timeZone(session);
        boolean large = SparkSchemas.largeVarTypes(session);
        Schema arrow = SparkSchemas.toArrow(schema, tz, large);
        String context = SparkContexts.watch(session.sparkContext());
        long resultId = Parked.newResult(context);
        try {
            JavaRDD<Integer> written = writeTasks(df, resultId, schema, tz, large);
            int n = written.getNumPartitions();
            return new PartitionReader(arrow, new PartitionReader.Source() {
                private final ArrayDeque<VectorSchemaRoot> pending = new ArrayDeque<>();
                private boolean ran;
                private int next;

                @Override
                public VectorSchemaRoot next() throws IOException {
                    if (!lazy && !ran) {
                        ran = true;
                        runJob(session, "the result's job", written::collect); // one job: every partition parked
                    }
                    while (pending.isEmpty()) {
                        if (next >= n) {
                            return null;
                        }
                        int p = next++;
                        if (lazy) {
                            runJob(session, "partition " + p + " of the result",
                                    () -> written.collectPartitions(new int[] {p}));
                        }
                        List<VectorSchemaRoot> batches = Parked.takeResult(resultId, p);
                        if (batches == null) {
                            throw new IOException("gatun.spark: the result of partition " + p + " is gone "
                                    + "(its reader was closed, or its SparkContext stopped)");
                        }
                        pending.addAll(batches);
                    }
                    return pending.poll();
                }

                @Override
                public void run() {
                    Parked.dropResult(resultId);
                    pending.forEach(VectorSchemaRoot::close);
                    pending.clear();
                }
            });
        } catch (Throwable e) {
            Parked.dropResult(resultId);
            throw e;
        }
    }

    /**
     * Runs a job of the result; a failure is the reader's to report
     * ({@link ResultFailure}), an interruption goes on as it is.
     */
    private static void runJob(SparkSession session, String what, java.util.function.Supplier<?> job)
            throws ResultFailure {
        try {
            SparkJobs.cancellable(session.sparkContext(), job);
        } catch (RuntimeException e) {
            if (SparkJobs.interrupted(e)) {
                throw e;
            }
            throw new ResultFailure(what, e);
        }
    }

    /**
     * The tasks that write and park each partition: a copy of Spark's columnar
     * batches when the plan yields them ({@link ColumnarSource}) or of a cached
     * DataFrame's batches ({@link CachedBatches}), else Spark's rows through
     * {@link ArrowWriter}; all park the same roots.
     */
    private static JavaRDD<Integer> writeTasks(Dataset<?> df, long resultId, StructType schema, String tz,
            boolean large) {
        SparkPlan plan = df.queryExecution().executedPlan();
        ColumnarCopy copy = new ColumnarCopy(resultId, schema, tz, large);
        SparkPlan columnar = ColumnarSource.find(plan, schema);
        if (columnar != null) {
            JavaRDD<ColumnarBatch> batches = columnar.executeColumnar().toJavaRDD();
            return batches.mapPartitionsWithIndex(copy, false);
        }
        int[] cachedColumns = CachedBatches.columns(plan, schema);
        if (cachedColumns != null) {
            JavaRDD<CachedBatch> cached = CachedBatches.of(plan).toJavaRDD();
            return cached.mapPartitionsWithIndex(new ColumnarCopy.Cached(copy, cachedColumns), false);
        }
        JavaRDD<InternalRow> rows = df.queryExecution().toRdd().toJavaRDD();
        return rows.mapPartitionsWithIndex(new WritePartition(resultId, schema, tz, large), false);
    }

    /** A task's work: its partition's rows into a parked root on the bridge allocator. */
    private static final class WritePartition
            implements Function2<Integer, Iterator<InternalRow>, Iterator<Integer>> {
        private static final long serialVersionUID = 1L;
        private final long resultId;
        private final StructType schema;
        private final String timeZone;
        private final boolean largeVarTypes;

        WritePartition(long resultId, StructType schema, String timeZone, boolean largeVarTypes) {
            this.resultId = resultId;
            this.schema = schema;
            this.timeZone = timeZone;
            this.largeVarTypes = largeVarTypes;
        }

        @Override
        public Iterator<Integer> call(Integer partition, Iterator<InternalRow> rows) {
            Schema arrow = SparkSchemas.toArrow(schema, timeZone, largeVarTypes);
            List<VectorSchemaRoot> batches = new ArrayList<>();
            int count = 0;
            try {
                do {
                    VectorSchemaRoot root = VectorSchemaRoot.create(arrow, ArrowBridge.allocator());
                    batches.add(root);
                    ArrowWriter writer = ArrowWriter.create(root);
                    for (int n = 0; n < ROWS_PER_BATCH && rows.hasNext(); n++) {
                        writer.write(rows.next());
                        count++;
                    }
                    writer.finish();
                } while (rows.hasNext());
            } catch (Throwable e) {
                batches.forEach(VectorSchemaRoot::close); // a failed attempt parks nothing; its retry writes afresh
                throw e;
            }
            // A retried or speculative attempt replaces the earlier one's batches (closing them).
            Parked.parkResult(resultId, partition, batches);
            return Collections.singletonList(count).iterator();
        }
    }
}
