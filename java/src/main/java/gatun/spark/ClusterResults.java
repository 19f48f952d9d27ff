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
 * loads each message into a root on {@link ArrowBridge#allocator()}, which
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
            int loaded = 0;
            if (!lazy) {
                List<byte[]>[] parts = messages.collectPartitions(all(n));
                for (int p = 0; p < n; p++) {
                    for (byte[] message : parts[p]) {
                        Parked.parkResult(resultId, loaded++, List.of(IpcBatches.load(message, arrow)));
                    }
                    parts[p] = null; // the heap copy can go once the arena holds the partition
                }
            }
            int total = loaded;
            return new PartitionReader(arrow, new PartitionReader.Source() {
                private final ArrayDeque<byte[]> pending = new ArrayDeque<>();
                private int partition;
                private int served;

                @Override
                public VectorSchemaRoot next() throws IOException {
                    if (!lazy) {
                        if (served >= total) {
                            return null;
                        }
                        List<VectorSchemaRoot> root = Parked.takeResult(resultId, served++);
                        if (root == null) {
                            throw new IOException("gatun.spark: result batch " + (served - 1) + " is gone "
                                    + "(its reader was closed, or its SparkContext stopped)");
                        }
                        return root.get(0);
                    }
                    while (pending.isEmpty() && partition < n) {
                        pending.addAll(messages.collectPartitions(new int[] {partition++})[0]);
                    }
                    return pending.isEmpty() ? null : IpcBatches.load(pending.poll(), arrow);
                }

                @Override
                public void run() {
                    Parked.dropResult(resultId);
                }
            });
        } catch (IOException e) {
            Parked.dropResult(resultId);
            throw new java.io.UncheckedIOException("gatun.spark: a result batch could not be loaded: "
                    + e.getMessage(), e);
        } catch (Throwable e) {
            Parked.dropResult(resultId);
            throw e;
        }
    }

    private static int[] all(int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i;
        }
        return ids;
    }
}
