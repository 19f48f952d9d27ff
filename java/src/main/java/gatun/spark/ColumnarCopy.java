package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * A task's work when the plan is columnar ({@link ColumnarSource}): its
 * partition's Spark batches copied column by column ({@link ColumnCopier})
 * into roots on {@link ArrowBridge#allocator()} of at most
 * {@link LocalResults#ROWS_PER_BATCH} rows (Spark's batches are a few
 * thousand rows, so several fill one root), parked as the row path parks
 * them. The roots equal what Spark's {@code ArrowWriter} writes from the rows.
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
        StructField[] fields = schema.fields();
        ColumnCopier[] copiers = new ColumnCopier[fields.length];
        for (int c = 0; c < fields.length; c++) {
            copiers[c] = ColumnCopier.of(fields[c].dataType(), largeVarTypes);
        }
        List<VectorSchemaRoot> roots = new ArrayList<>();
        int count = 0;
        try {
            VectorSchemaRoot root = newRoot(arrow, roots);
            int rows = 0;
            while (batches.hasNext()) {
                ColumnarBatch batch = batches.next(); // copied before the next: the scan may reuse it
                int n = batch.numRows();
                for (int from = 0; from < n;) {
                    if (rows == LocalResults.ROWS_PER_BATCH) {
                        finish(root, rows, copiers);
                        root = newRoot(arrow, roots);
                        rows = 0;
                    }
                    int k = Math.min(n - from, LocalResults.ROWS_PER_BATCH - rows);
                    for (int c = 0; c < copiers.length; c++) {
                        copiers[c].copy(batch.column(c), from, k, root.getVector(c), rows);
                    }
                    rows += k;
                    from += k;
                    count += k;
                }
            }
            finish(root, rows, copiers);
        } catch (Throwable e) {
            roots.forEach(VectorSchemaRoot::close); // a failed attempt parks nothing; its retry copies afresh
            throw e;
        }
        Parked.parkResult(resultId, partition, roots);
        return Collections.singletonList(count).iterator();
    }

    private static VectorSchemaRoot newRoot(Schema arrow, List<VectorSchemaRoot> roots) {
        VectorSchemaRoot root = VectorSchemaRoot.create(arrow, ArrowBridge.allocator());
        roots.add(root);
        root.allocateNew();
        return root;
    }

    private static void finish(VectorSchemaRoot root, int rows, ColumnCopier[] copiers) {
        for (int c = 0; c < copiers.length; c++) {
            copiers[c].finish(root.getVector(c), rows);
        }
        root.setRowCount(rows);
    }
}
