package gatun.spark;

import java.util.Iterator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * A partition's Spark column batches copied column by column
 * ({@link ColumnCopier}) into Arrow roots of at most a given number of rows
 * (Spark's batches are a few thousand rows, so several fill one root). Where
 * the roots come from and where full ones go is the caller's: local mode
 * parks new roots on the bridge allocator ({@link ColumnarCopy}), executors
 * serialise one reused root ({@link ColumnarMessages}). Runs on executors, so
 * it refers to nothing of gatun's but what {@link ExecutorJar} ships.
 */
final class ColumnarFill {
    /** Where roots come from and where full ones go. */
    interface Roots {
        /**
         * @return an empty root with the partition's schema, allocated
         */
        VectorSchemaRoot empty();

        /**
         * Takes a root that is complete (its row count set).
         *
         * @param root the root {@link #empty} gave
         */
        void full(VectorSchemaRoot root);
    }

    private ColumnarFill() {
    }

    /**
     * @param batches a partition's batches; each is copied before the next is
     *     asked for, since a scan may reuse its batch
     * @param schema the DataFrame's schema (the batches' columns, in order)
     * @param largeVarTypes whether strings and binaries have 64-bit offsets
     * @param rowsPerRoot rows per root at most
     * @param roots where roots come from and go (at least one, possibly empty)
     * @return the rows copied
     */
    static long fill(Iterator<ColumnarBatch> batches, StructType schema, boolean largeVarTypes, int rowsPerRoot,
            Roots roots) {
        StructField[] fields = schema.fields();
        ColumnCopier[] copiers = new ColumnCopier[fields.length];
        for (int c = 0; c < fields.length; c++) {
            copiers[c] = ColumnCopier.of(fields[c].dataType(), largeVarTypes);
        }
        long count = 0;
        VectorSchemaRoot root = roots.empty();
        int rows = 0;
        while (batches.hasNext()) {
            ColumnarBatch batch = batches.next();
            int n = batch.numRows();
            for (int from = 0; from < n;) {
                if (rows == rowsPerRoot) {
                    finish(root, rows, copiers);
                    roots.full(root);
                    root = roots.empty();
                    rows = 0;
                }
                int k = Math.min(n - from, rowsPerRoot - rows);
                for (int c = 0; c < copiers.length; c++) {
                    copiers[c].copy(batch.column(c), from, k, root.getVector(c), rows);
                }
                rows += k;
                from += k;
                count += k;
            }
        }
        finish(root, rows, copiers);
        roots.full(root);
        return count;
    }

    private static void finish(VectorSchemaRoot root, int rows, ColumnCopier[] copiers) {
        for (int c = 0; c < copiers.length; c++) {
            copiers[c].finish(root.getVector(c), rows);
        }
        root.setRowCount(rows);
    }
}
