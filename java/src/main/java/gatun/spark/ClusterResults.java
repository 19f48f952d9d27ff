package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.List;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.classic.Dataset;
import org.apache.spark.sql.classic.SparkSession;

/**
 * Cluster mode's toArrow: executors (other JVMs) turn their partitions into
 * Arrow IPC messages with Spark's own {@code toArrowBatchRdd}; the driver
 * loads each message into a root on {@link ArrowBridge#allocator()} as its
 * partition arrives (every partition fetched at once, a job each), which
 * Python receives in place, and serves them in partition order.
 */
final class ClusterResults {
    /** Rows per message at least: Spark's 10K default would cut a result into thousands of batches. */
    static final int MIN_ROWS_PER_MESSAGE = 1 << 17;

    private ClusterResults() {
    }

    /**
     * @param df the DataFrame
     * @param lazy one job per partition, as the reader asks (memory bounded),
     *     rather than one job for all before returning
     * @return the reader
     */
    static ArrowReader read(Dataset<?> df, boolean lazy) {
        SparkSession session = df.sparkSession();
        String tz = SparkSchemas.timeZone(session);
        boolean large = SparkSchemas.largeVarTypes(session);
        Schema arrow = SparkSchemas.toArrow(df.schema(), tz, large);
        int configured = Integer.parseInt(session.conf().get("spark.sql.execution.arrow.maxRecordsPerBatch", "10000"));
        int perMessage = configured <= 0 ? configured : Math.max(configured, MIN_ROWS_PER_MESSAGE);
        JavaRDD<byte[]> messages = df.toArrowBatchRdd(perMessage, tz, true, large).toJavaRDD();
        int n = messages.getNumPartitions();
        String context = SparkContexts.watch(session.sparkContext());
        long resultId = Parked.newResult(context);
        try {
            return lazy ? lazyReader(messages, n, arrow, resultId, session) : arriving(messages, n, arrow, resultId, session);
        } catch (Throwable e) {
            Parked.dropResult(resultId);
            throw e;
        }
    }

    /**
     * Every partition fetched at once, each by a job of its own on a small
     * pool of driver threads, and loaded into the arena as it arrives
     * (partition order is the reader's, not the arrival's): Python reads the
     * first partition while later ones are still computed or in transit. Only
     * Spark's own code runs on the executors ({@code collectPartitions}).
     */
    private static ArrowReader arriving(JavaRDD<byte[]> messages, int n, Schema arrow, long resultId,
            SparkSession session) {
        String group = "gatun-toArrow-" + resultId;
        int threads = Math.max(1, Math.min(n, Math.max(2, session.sparkContext().defaultParallelism())));
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "gatun-spark-results");
            t.setDaemon(true);
            return t;
        });
        @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type is made raw
        java.util.concurrent.CompletableFuture<Void>[] arrived = new java.util.concurrent.CompletableFuture[n];
        for (int p = 0; p < n; p++) {
            int partition = p;
            arrived[p] = java.util.concurrent.CompletableFuture.runAsync(() -> {
                session.sparkContext().setJobGroup(group, "gatun.spark toArrow", true);
                // A mutable copy: the heap copy of each message can go once the arena holds it.
                List<byte[]> part = new java.util.ArrayList<>(messages.collectPartitions(new int[] {partition})[0]);
                List<VectorSchemaRoot> loaded = new java.util.ArrayList<>(part.size());
                try {
                    for (int i = 0; i < part.size(); i++) {
                        loaded.add(IpcBatches.load(part.get(i), arrow));
                        part.set(i, null);
                    }
                } catch (IOException | RuntimeException e) {
                    loaded.forEach(VectorSchemaRoot::close);
                    throw new java.util.concurrent.CompletionException(e);
                }
                Parked.parkResult(resultId, partition, loaded);
            }, pool);
        }
        pool.shutdown(); // threads end once every partition has arrived
        return new PartitionReader(arrow, new PartitionReader.Source() {
            private final ArrayDeque<VectorSchemaRoot> pending = new ArrayDeque<>();
            private int partition;

            @Override
            public VectorSchemaRoot next() throws IOException {
                while (pending.isEmpty() && partition < n) {
                    int p = partition++;
                    try {
                        arrived[p].get(); // interruptible, unlike join()
                    } catch (InterruptedException e) {
                        // Ctrl-C in Python: the jobs stop now, not when the reader is collected.
                        cancelGroup(session, group);
                        Thread.currentThread().interrupt();
                        throw new java.io.InterruptedIOException("gatun.spark: interrupted while partition " + p
                                + " of the result was on its way; its jobs are cancelled");
                    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.CancellationException e) {
                        Throwable cause = e.getCause() != null ? e.getCause() : e;
                        if (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
                            cause = cause.getCause();
                        }
                        throw new IOException("gatun.spark: partition " + p + " of the result failed: " + cause, cause);
                    }
                    List<VectorSchemaRoot> roots = Parked.takeResult(resultId, p);
                    if (roots == null) {
                        throw new IOException("gatun.spark: partition " + p + " of the result is gone "
                                + "(its reader was closed, or its SparkContext stopped)");
                    }
                    pending.addAll(roots);
                }
                return pending.poll();
            }

            @Override
            public void run() {
                // Closed or unreachable: stop what is still running, release what arrived.
                cancelGroup(session, group);
                for (java.util.concurrent.CompletableFuture<Void> f : arrived) {
                    f.cancel(false);
                }
                pending.forEach(VectorSchemaRoot::close);
                pending.clear();
                Parked.dropResult(resultId);
            }
        });
    }

    /** Cancels the jobs of {@code group}, interrupting their tasks, unless the context is gone. */
    private static void cancelGroup(SparkSession session, String group) {
        org.apache.spark.SparkContext sc = session.sparkContext();
        if (!sc.isStopped()) {
            try {
                sc.cancelJobGroup(group);
            } catch (IllegalStateException e) {
                // stopped meanwhile: its jobs are gone with it
            }
        }
    }

    /** One job per partition as the reader asks: memory bounded. */
    private static ArrowReader lazyReader(JavaRDD<byte[]> messages, int n, Schema arrow, long resultId,
            SparkSession session) {
        return new PartitionReader(arrow, new PartitionReader.Source() {
            private final ArrayDeque<byte[]> pending = new ArrayDeque<>();
            private int partition;

            @Override
            public VectorSchemaRoot next() throws IOException {
                while (pending.isEmpty() && partition < n) {
                    int p = partition++;
                    pending.addAll(SparkJobs.cancellable(session.sparkContext(),
                            () -> messages.collectPartitions(new int[] {p}))[0]);
                }
                return pending.isEmpty() ? null : IpcBatches.load(pending.poll(), arrow);
            }

            @Override
            public void run() {
                Parked.dropResult(resultId);
            }
        });
    }
}
