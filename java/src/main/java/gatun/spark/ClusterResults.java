package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.SimpleFutureAction;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.classic.Dataset;
import org.apache.spark.sql.classic.SparkSession;
import scala.Function1;
import scala.Function2;
import scala.concurrent.ExecutionContext;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.BoxedUnit;
import scala.util.Try;

/**
 * Cluster mode's toArrow: executors (other JVMs) turn their partitions into
 * Arrow IPC messages with Spark's own {@code toArrowBatchRdd}; the driver
 * loads each message into a root on {@link ArrowBridge#allocator()} as its
 * partition arrives (one job for every partition), which Python receives in
 * place, and serves them in partition order.
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
     * One job over every partition: each partition's messages are loaded into
     * the arena by a driver thread as they arrive (Spark hands them over in
     * arrival order), and the reader serves them in partition order, so
     * Python reads the first partition while later ones are still computed or
     * in transit. On the executors only Spark's code and {@link PartitionBytes}
     * run (shipped by {@link ExecutorJar}).
     */
    private static ArrowReader arriving(JavaRDD<byte[]> messages, int n, Schema arrow, long resultId,
            SparkSession session) {
        @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type is made raw
        CompletableFuture<Void>[] arrived = new CompletableFuture[n];
        for (int p = 0; p < n; p++) {
            arrived[p] = new CompletableFuture<>();
        }
        SimpleFutureAction<BoxedUnit> job = n == 0 ? null : submit(messages, n, arrow, resultId, session, arrived);
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
                        // Ctrl-C in Python: the job stops now, not when the reader is collected.
                        job.cancel();
                        Thread.currentThread().interrupt();
                        throw new java.io.InterruptedIOException("gatun.spark: interrupted while partition " + p
                                + " of the result was on its way; its job is cancelled");
                    } catch (ExecutionException | CancellationException e) {
                        Throwable cause = e.getCause() != null ? e.getCause() : e;
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
                if (job != null && !job.isCompleted() && !session.sparkContext().isStopped()) {
                    job.cancel();
                }
                pending.forEach(VectorSchemaRoot::close);
                pending.clear();
                Parked.dropResult(resultId);
            }
        });
    }

    /**
     * Submits the job; its partitions' results are loaded on one driver
     * thread (Spark calls the result handler on its scheduler's thread, which
     * must not wait for copies), which also settles, once the job ends, every
     * partition that did not arrive.
     */
    private static SimpleFutureAction<BoxedUnit> submit(JavaRDD<byte[]> messages, int n, Schema arrow, long resultId,
            SparkSession session, CompletableFuture<Void>[] arrived) {
        SparkContext sc = session.sparkContext();
        ExecutorJar.ship(sc);
        ExecutorService loader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "gatun-spark-results");
            t.setDaemon(true);
            return t;
        });
        Function2<Object, byte[][], BoxedUnit> handler = (index, part) -> {
            int p = (Integer) index;
            loader.execute(() -> land(part, p, arrow, resultId, arrived[p]));
            return BoxedUnit.UNIT;
        };
        List<Object> all = new ArrayList<>(n);
        for (int p = 0; p < n; p++) {
            all.add(p);
        }
        SimpleFutureAction<BoxedUnit> job;
        try {
            job = sc.submitJob(messages.rdd(), new PartitionBytes(), CollectionConverters.asScala(all).toList(),
                    handler, () -> BoxedUnit.UNIT);
        } catch (RuntimeException e) {
            loader.shutdown();
            throw e;
        }
        Function1<Try<BoxedUnit>, BoxedUnit> settle = done -> {
            Throwable failure = done.isFailure() ? done.failed().get() : null;
            for (int p = 0; p < n; p++) {
                arrived[p].completeExceptionally(failure != null ? failure
                        : new IllegalStateException("the job ended without this partition's result"));
            }
            loader.shutdown();
            return BoxedUnit.UNIT;
        };
        job.onComplete(settle, ExecutionContext.fromExecutor(loader));
        return job;
    }

    /** Loads one partition's messages into the arena and parks them for the reader. */
    private static void land(byte[][] part, int partition, Schema arrow, long resultId, CompletableFuture<Void> done) {
        List<VectorSchemaRoot> loaded = new ArrayList<>(part.length);
        try {
            for (int i = 0; i < part.length; i++) {
                loaded.add(IpcBatches.load(part[i], arrow));
                part[i] = null; // the heap copy can go once the arena holds it
            }
        } catch (IOException | RuntimeException e) {
            loaded.forEach(VectorSchemaRoot::close);
            done.completeExceptionally(e);
            return;
        }
        Parked.parkResult(resultId, partition, loaded);
        done.complete(null);
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
