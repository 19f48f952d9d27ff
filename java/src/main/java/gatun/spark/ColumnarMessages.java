package gatun.spark;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.Iterator;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.columnar.CachedBatch;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.ArrowUtils;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * Cluster mode's task when the plan is columnar ({@link ColumnarSource}) or a
 * cached DataFrame ({@link CachedBatches}): runs on an executor, copies its
 * partition's Spark batches into one reused Arrow root ({@link ColumnarFill})
 * and sends it as record-batch messages to the driver
 * ({@link PartitionMessages}). Spark's own path turns the batches into rows and the
 * rows back into Arrow first. Shipped to executors by {@link ExecutorJar}.
 */
final class ColumnarMessages extends AbstractFunction1<scala.collection.Iterator<Object>, byte[][]>
        implements Serializable {
    private static final long serialVersionUID = 1L;
    private final StructType schema;
    private final String timeZone;
    private final boolean largeVarTypes;
    private final int rowsPerMessage;
    private final int[] cachedColumns;
    private final PartitionMessages.Target target;

    /**
     * @param schema the DataFrame's schema
     * @param timeZone the session time zone (Arrow's timestamp type carries it)
     * @param largeVarTypes whether strings and binaries have 64-bit offsets
     * @param rowsPerMessage rows per message at most
     * @param cachedColumns null when the partitions are Spark's column batches;
     *     else they are cached batches, decoded with these columns
     *     ({@link CachedBatches#columns})
     * @param target where to push the messages, or null to return them
     */
    ColumnarMessages(StructType schema, String timeZone, boolean largeVarTypes, int rowsPerMessage,
            int[] cachedColumns, PartitionMessages.Target target) {
        this.schema = schema;
        this.timeZone = timeZone;
        this.largeVarTypes = largeVarTypes;
        this.rowsPerMessage = rowsPerMessage;
        this.cachedColumns = cachedColumns;
        this.target = target;
    }

    @Override
    @SuppressWarnings("unchecked") // the RDD's elements are of the kind cachedColumns says
    public byte[][] apply(scala.collection.Iterator<Object> partition) {
        Iterator<?> elements = CollectionConverters.asJava(partition);
        Iterator<ColumnarBatch> batches = cachedColumns == null ? (Iterator<ColumnarBatch>) elements
                : CachedBatches.decode((Iterator<CachedBatch>) elements, schema, cachedColumns);
        Schema arrow = SparkSchemas.toArrow(schema, timeZone, largeVarTypes);
        try (BufferAllocator allocator = ArrowUtils.rootAllocator().newChildAllocator("gatun.spark toArrow", 0,
                Long.MAX_VALUE);
                VectorSchemaRoot root = VectorSchemaRoot.create(arrow, allocator);
                PartitionMessages out = PartitionMessages.open(target, TaskContext.getPartitionId())) {
            root.allocateNew();
            ColumnarFill.fill(batches, schema, largeVarTypes, rowsPerMessage, new ColumnarFill.Roots() {
                private boolean used;

                @Override
                public VectorSchemaRoot empty() {
                    if (used) { // the buffers keep their size: later messages do not regrow them
                        root.getFieldVectors().forEach(FieldVector::reset);
                        root.setRowCount(0);
                    }
                    used = true;
                    return root;
                }

                @Override
                public void full(VectorSchemaRoot filled) {
                    if (filled.getRowCount() == 0) {
                        return; // an empty partition sends no message, as Spark's path
                    }
                    try {
                        out.add(filled);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            });
            return out.result();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
