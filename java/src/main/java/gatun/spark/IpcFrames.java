package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.execution.arrow.ArrowConverters;
import org.apache.spark.sql.internal.SQLConf;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * DataFrames from Arrow IPC messages, through Spark's own
 * {@code ArrowConverters.toDataFrame}: the path for cluster mode (executors in
 * other JVMs decode the batches; none of our classes is needed there) and for
 * streams, which may be larger than the arena (each batch becomes heap bytes
 * as it is read, so its shared memory is released batch by batch). Above
 * {@code spark.sql.execution.arrow.localRelationThreshold} Spark makes one
 * partition per message, as for PySpark's own createDataFrame; below it, the
 * rows stay on the driver as a local relation (in cluster mode only for tables
 * up to {@link #KEPT_ON_DRIVER_BYTES}, unless the user set the threshold).
 */
final class IpcFrames {
    /** Spark's setting: Arrow data up to this size becomes a local relation on the driver. */
    static final String LOCAL_RELATION_THRESHOLD = "spark.sql.execution.arrow.localRelationThreshold";
    /** In cluster mode, tables up to this size stay on the driver (a local relation); larger ones are distributed. */
    static final long KEPT_ON_DRIVER_BYTES = 1L << 20;

    private IpcFrames() {
    }

    /**
     * @param session the session
     * @param root the table; closed before this returns
     * @param numPartitions partitions, 0 or less for Spark's choice
     * @return the DataFrame
     */
    static Dataset<Row> fromRoot(SparkSession session, VectorSchemaRoot root, int numPartitions) {
        List<byte[]> messages = new ArrayList<>();
        StructType schema;
        try (root) {
            IpcBatches.refuseDictionaries(root.getSchema());
            schema = SparkSchemas.fromArrow(root.getSchema());
            // Distributed, a table gets a message (a partition) per core at least.
            int pieces = numPartitions > 0 || !distributed(session, Parked.bytes(root)) ? numPartitions
                    : session.sparkContext().defaultParallelism();
            IpcBatches.cut(root, expected(session, schema), pieces, messages);
        }
        return frame(session, schema, messages, numPartitions);
    }

    /**
     * @param session the session
     * @param reader the stream; read to its end and closed before this returns
     * @param numPartitions partitions, 0 or less for Spark's choice
     * @return the DataFrame
     */
    static Dataset<Row> fromReader(SparkSession session, ArrowReader reader, int numPartitions) {
        List<byte[]> messages = new ArrayList<>();
        StructType schema;
        try (reader) {
            Schema arrow = reader.getVectorSchemaRoot().getSchema();
            IpcBatches.refuseDictionaries(arrow);
            schema = SparkSchemas.fromArrow(arrow);
            Schema expected = expected(session, schema);
            while (reader.loadNextBatch()) {
                VectorSchemaRoot batch = reader.getVectorSchemaRoot();
                if (batch.getRowCount() > 0) {
                    IpcBatches.cut(batch, expected, 1, messages);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("gatun.spark: reading the Arrow stream failed: " + e.getMessage(), e);
        }
        return frame(session, schema, messages, numPartitions);
    }

    /**
     * Spark's conversion, with its local-relation threshold lowered in
     * cluster mode for all but small tables: a local relation turns every row
     * into a Java-serialised {@code UnsafeRow} that travels inside the tasks
     * (3 s for a million rows of three columns on two cores, where shipping
     * the Arrow messages and decoding them on the executors takes a fraction
     * of that), and in both modes when more than one partition is asked for
     * (a local relation is one partition, and only a shuffle, which loses the
     * rows' order, makes more of it). A threshold the user set is left alone. The session's setting
     * is changed for the length of the call, under a lock: another thread's
     * own Arrow createDataFrame in that instant distributes its rows too,
     * which changes how, not what, it computes.
     */
    private static org.apache.spark.sql.classic.Dataset<Row> convert(SparkSession session, StructType schema,
            List<byte[]> messages, boolean partitionsAsked) {
        scala.collection.Iterator<byte[]> batches = CollectionConverters.asScala(messages.iterator());
        SQLConf conf = session.sessionState().conf();
        boolean spread = partitionsAsked ? !thresholdSet(session)
                : distributed(session, messages.stream().mapToLong(m -> m.length).sum());
        if (!spread) {
            return ArrowConverters.toDataFrame(batches, schema.json(), session);
        }
        synchronized (IpcFrames.class) {
            conf.setConfString(LOCAL_RELATION_THRESHOLD, "0");
            try {
                return ArrowConverters.toDataFrame(batches, schema.json(), session);
            } finally {
                conf.unsetConf(LOCAL_RELATION_THRESHOLD);
            }
        }
    }

    /** Whether {@link #convert} lowers the threshold for a table of {@code bytes}. */
    private static boolean distributed(SparkSession session, long bytes) {
        return !session.sparkContext().isLocal() && bytes > KEPT_ON_DRIVER_BYTES && !thresholdSet(session);
    }

    private static boolean thresholdSet(SparkSession session) {
        return session.sessionState().conf().contains(LOCAL_RELATION_THRESHOLD);
    }

    private static Schema expected(SparkSession session, StructType schema) {
        return SparkSchemas.toArrow(schema, SparkSchemas.timeZone(session), SparkSchemas.largeVarTypes(session));
    }

    private static Dataset<Row> frame(SparkSession session, StructType schema, List<byte[]> messages,
            int numPartitions) {
        if (numPartitions <= 0) {
            return convert(session, schema, messages, false);
        }
        // Distributed, Spark makes a partition of each message: as many as asked, cut in order.
        List<byte[]> cut = numPartitions > messages.size() ? atLeast(messages, numPartitions, expected(session, schema))
                : messages;
        org.apache.spark.sql.classic.Dataset<Row> df = convert(session, schema, cut, numPartitions > 1);
        int have = df.queryExecution().toRdd().getNumPartitions();
        if (numPartitions == have) {
            return df;
        }
        // Fewer: merge neighbours (row order kept). More: only a local relation (under a
        // threshold the user set) has fewer, and only a shuffle makes more (order lost).
        return numPartitions < have ? df.coalesce(numPartitions) : df.repartition(numPartitions);
    }

    /**
     * Cuts record-batch messages into at least {@code n}, in order: each into
     * pieces in proportion to its size (its rows, for one schema), then empty
     * messages for partitions that rows cannot fill. (Arrow's flatbuffer
     * classes, which would read a message's row count from its header, cannot
     * be used here: the server jar relocates flatbuffers.)
     */
    private static List<byte[]> atLeast(List<byte[]> messages, int n, Schema arrow) {
        long total = messages.stream().mapToLong(m -> m.length).sum();
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            long bytes = messages.get(i).length;
            int pieces = total == 0 ? 1 : (int) Math.max(1, (n * bytes + total - 1) / total);
            try (VectorSchemaRoot root = IpcBatches.load(messages.get(i), arrow)) {
                IpcBatches.cut(root, arrow, pieces, out);
            } catch (IOException e) {
                throw new UncheckedIOException("gatun.spark: re-reading a message to cut it failed", e);
            }
            messages.set(i, null); // its heap copy can go
        }
        while (out.size() < n) {
            try (VectorSchemaRoot empty = VectorSchemaRoot.create(arrow, ArrowBridge.allocator())) {
                empty.setRowCount(0);
                out.add(IpcMessage.of(empty));
            }
        }
        return out;
    }
}
