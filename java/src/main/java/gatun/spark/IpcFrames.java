package gatun.spark;

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
 * rows stay on the driver as a local relation.
 */
final class IpcFrames {
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
            IpcBatches.cut(root, expected(session, schema), numPartitions, messages);
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

    private static Schema expected(SparkSession session, StructType schema) {
        return SparkSchemas.toArrow(schema, SparkSchemas.timeZone(session), SparkSchemas.largeVarTypes(session));
    }

    private static Dataset<Row> frame(SparkSession session, StructType schema, List<byte[]> messages,
            int numPartitions) {
        org.apache.spark.sql.classic.Dataset<Row> df = ArrowConverters.toDataFrame(
                CollectionConverters.asScala(messages.iterator()), schema.json(), session);
        if (numPartitions <= 0) {
            return df;
        }
        int have = df.queryExecution().toRdd().getNumPartitions();
        if (numPartitions == have) {
            return df;
        }
        // Fewer: merge neighbours (row order kept). More: Spark keeps a small table on the
        // driver as one local relation, so only a shuffle makes more (row order not kept).
        return numPartitions < have ? df.coalesce(numPartitions) : df.repartition(numPartitions);
    }
}
