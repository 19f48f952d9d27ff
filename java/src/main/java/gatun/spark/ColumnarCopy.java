package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.sql.columnar.CachedBatch;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * Local mode's task when the plan is columnar ({@link ColumnarSource}): its
 * partition's Spark batches copied ({@link ColumnarFill}) into new roots on
 * {@link ArrowBridge#allocator()} of at most {@link LocalResults#ROWS_PER_BATCH}
 * rows, parked as the row path parks them. The roots equal what Spark's
 * {@code ArrowWriter} writes from the rows.
 */
final class ColumnarCopy implements Function2<Integer, Iterator<ColumnarBatch>, Iterator<Integer>> {
    private static final long serialVersionUID = 1L;
    private final long resultId;
    private final StructType schema;
    private final String timeZone;
    private final boolean largeVarTypes;

    ColumnarCopy(long resultId, StructType schema, String timeZone, boolean largeVarTypes) {
        this.resultId = resultId;
        this.schema = schema;
        this.timeZone = timeZone;
        this.largeVarTypes = largeVarTypes;
    }

    @Override
    public Iterator<Integer> call(Integer partition, Iterator<ColumnarBatch> batches) {
        Schema arrow = SparkSchemas.toArrow(schema, timeZone, largeVarTypes);
        List<VectorSchemaRoot> roots = new ArrayList<>();
        long count;
        try {
            count = ColumnarFill.fill(batches, schema, largeVarTypes, LocalResults.ROWS_PER_BATCH,
                    new ColumnarFill.Roots() {
                        @Override
                        public VectorSchemaRoot empty() {
                            VectorSchemaRoot root = VectorSchemaRoot.create(arrow, ArrowBridge.allocator());
                            roots.add(root);
                            root.allocateNew();
                            return root;
                        }

                        @Override
                        public void full(VectorSchemaRoot root) {
                            // kept in the list, parked with the others
                        }
                    });
        } catch (Throwable e) {
            roots.forEach(VectorSchemaRoot::close); // a failed attempt parks nothing; its retry copies afresh
            throw e;
        }
        Parked.parkResult(resultId, partition, roots);
        return Collections.singletonList((int) count).iterator();
    }

    /** The same task over a cached DataFrame's batches, decoded first ({@link CachedBatches}). */
    static final class Cached implements Function2<Integer, Iterator<CachedBatch>, Iterator<Integer>> {
        private static final long serialVersionUID = 1L;
        private final ColumnarCopy copy;
        private final int[] columns;

        /**
         * @param copy the task over the decoded batches
         * @param columns from {@link CachedBatches#columns}
         */
        Cached(ColumnarCopy copy, int[] columns) {
            this.copy = copy;
            this.columns = columns;
        }

        @Override
        public Iterator<Integer> call(Integer partition, Iterator<CachedBatch> batches) {
            return copy.call(partition, CachedBatches.decode(batches, copy.schema, columns));
        }
    }
}
