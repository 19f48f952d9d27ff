package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
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
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.classic.Dataset;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.types.StructType;
import scala.Function1;
import scala.Function2;
import scala.concurrent.ExecutionContext;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.BoxedUnit;
import scala.util.Try;

/**
 * Cluster mode's toArrow: executors (other JVMs) turn their partitions into
 * Arrow IPC messages (copied from Spark's column batches when the plan has
 * them, {@link ColumnarMessages}; else with Spark's own
 * {@code toArrowBatchRdd}); the driver
 * loads each message into a root on {@link ArrowBridge#allocator()} as its
 * partition arrives (one job for every partition), which Python receives in
 * place, and serves them in partition order.
 */
final class ClusterResults {
    /** Rows per message at least: Spark's 10K default would cut a result into thousands of batches. */
    static final int MIN_ROWS_PER_MESSAGE = 1 << 17;
    private static final ClassTag<byte[][]> BYTES = ClassTag$.MODULE$.apply(byte[][].class);

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
        String context = SparkContexts.watch(session.sparkContext());
        long resultId = Parked.newResult(context);
        try {
            PartitionMessages.Target target = ResultPort.expect(session.sparkContext(), session.conf(), resultId,
                    arrow);
            Task task = task(df, tz, large, perMessage, target);
            ExecutorJar.ship(session.sparkContext());
            int n = task.rdd().getNumPartitions();
            return lazy ? lazyReader(task, n, arrow, resultId, session) : arriving(task, n, arrow, resultId, session);
        } catch (Throwable e) {
            ResultPort.forget(resultId);
            Parked.dropResult(resultId);
            throw e;
        }
    }

    /**
     * What executors run: the plan's own column batches, or a cached
     * DataFrame's batches, copied into messages ({@link ColumnarMessages})
     * when {@link ColumnarSource} or {@link CachedBatches} accept the plan;
     * else Spark's rows written as messages by Spark's {@code toArrowBatchRdd}.
     *
     * @param perMessage rows per message at most (0 or less: a message per partition)
     * @param target where tasks push their messages, or null to return them
     */
    @SuppressWarnings({"unchecked", "rawtypes"}) // every RDD is read as one of Object by its task
    private static Task task(Dataset<?> df, String tz, boolean large, int perMessage,
            PartitionMessages.Target target) {
        SparkPlan plan = df.queryExecution().executedPlan();
        StructType schema = df.schema();
        int rows = perMessage <= 0 ? Integer.MAX_VALUE : perMessage;
        SparkPlan columnar = ColumnarSource.find(plan, schema);
        if (columnar != null) {
            return new Task((RDD) columnar.executeColumnar(), new ColumnarMessages(schema, tz, large, rows, null, target));
        }
        int[] cachedColumns = CachedBatches.columns(plan, schema);
        if (cachedColumns != null) {
            return new Task((RDD) CachedBatches.of(plan),
                    new ColumnarMessages(schema, tz, large, rows, cachedColumns, target));
        }
        return new Task((RDD) df.toArrowBatchRdd(perMessage, tz, true, large), (Function1) new PartitionBytes(target));
    }

    /**
     * A result's job: an RDD, and the function executors run on each of its
     * partitions, giving the partition's record-batch messages.
     */
    private record Task(RDD<Object> rdd, Function1<scala.collection.Iterator<Object>, byte[][]> messages) {
    }

    /**
     * One job over every partition: each partition's messages are loaded into
     * the arena by a driver thread as they arrive (Spark hands them over in
     * arrival order), and the reader serves them in partition order, so
     * Python reads the first partition while later ones are still computed or
     * in transit. On the executors only Spark's code and {@link PartitionBytes}
     * run (shipped by {@link ExecutorJar}).
     */
    private static ArrowReader arriving(Task task, int n, Schema arrow, long resultId, SparkSession session) {
        @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type is made raw
        CompletableFuture<Void>[] arrived = new CompletableFuture[n];
        for (int p = 0; p < n; p++) {
            arrived[p] = new CompletableFuture<>();
        }
        SimpleFutureAction<BoxedUnit> job = n == 0 ? null : submit(task, n, arrow, resultId, session, arrived);
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
                        // The job's failure settles every partition not arrived: p need not be the one that failed.
                        throw new ResultFailure("the result's job", e.getCause() != null ? e.getCause() : e);
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
                ResultPort.forget(resultId);
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
    private static SimpleFutureAction<BoxedUnit> submit(Task task, int n, Schema arrow, long resultId,
            SparkSession session, CompletableFuture<Void>[] arrived) {
        SparkContext sc = session.sparkContext();
        ExecutorService loader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "gatun-spark-results");
            t.setDaemon(true);
            return t;
        });
        Function2<Object, byte[][], BoxedUnit> handler = (index, part) -> {
            int p = (Integer) index;
            if (part == null) {
                arrived[p].complete(null); // pushed: parked before the task could succeed
            } else {
                loader.execute(() -> land(part, p, arrow, resultId, arrived[p]));
            }
            return BoxedUnit.UNIT;
        };
        List<Object> all = new ArrayList<>(n);
        for (int p = 0; p < n; p++) {
            all.add(p);
        }
        SimpleFutureAction<BoxedUnit> job;
        try {
            job = sc.submitJob(task.rdd(), task.messages(), CollectionConverters.asScala(all).toList(),
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
            ResultPort.forget(resultId);
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
    private static ArrowReader lazyReader(Task task, int n, Schema arrow, long resultId, SparkSession session) {
        return new PartitionReader(arrow, new PartitionReader.Source() {
            private final ArrayDeque<VectorSchemaRoot> pushed = new ArrayDeque<>();
            private final ArrayDeque<byte[]> returned = new ArrayDeque<>();
            private int partition;

            @Override
            public VectorSchemaRoot next() throws IOException {
                while (pushed.isEmpty() && returned.isEmpty() && partition < n) {
                    int p = partition++;
                    SparkContext sc = session.sparkContext();
                    Object[] parts;
                    try {
                        parts = (Object[]) SparkJobs.cancellable(sc, () -> sc.runJob(task.rdd(), task.messages(),
                                CollectionConverters.asScala(List.<Object>of(p)).toList(), BYTES));
                    } catch (RuntimeException e) {
                        if (SparkJobs.interrupted(e)) {
                            throw e;
                        }
                        throw new ResultFailure("partition " + p + " of the result", e);
                    }
                    if (parts[0] != null) {
                        returned.addAll(Arrays.asList((byte[][]) parts[0]));
                        continue;
                    }
                    List<VectorSchemaRoot> roots = Parked.takeResult(resultId, p); // pushed before the job ended
                    if (roots == null) {
                        throw new IOException("gatun.spark: partition " + p + " of the result is gone "
                                + "(its reader was closed, or its SparkContext stopped)");
                    }
                    pushed.addAll(roots);
                }
                if (!pushed.isEmpty()) {
                    return pushed.poll();
                }
                return returned.isEmpty() ? null : IpcBatches.load(returned.poll(), arrow);
            }

            @Override
            public void run() {
                pushed.forEach(VectorSchemaRoot::close);
                pushed.clear();
                ResultPort.forget(resultId);
                Parked.dropResult(resultId);
            }
        });
    }
}
