package gatun.spark;

import java.nio.ByteOrder;
import java.util.Iterator;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.columnar.CachedBatch;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.columnar.ColumnAccessor$;
import org.apache.spark.sql.execution.columnar.DefaultCachedBatch;
import org.apache.spark.sql.execution.columnar.DefaultCachedBatchSerializer;
import org.apache.spark.sql.execution.columnar.InMemoryRelation;
import org.apache.spark.sql.execution.columnar.InMemoryTableScanExec;
import org.apache.spark.sql.execution.vectorized.OnHeapColumnVector;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import scala.collection.immutable.Seq;

/**
 * A cached DataFrame's batches as Spark columns, when Spark's own cache scan
 * would give rows: Spark's default cache serializer decodes only booleans and
 * numbers to columns, so one string column makes the whole scan rows. Here
 * each cached column is decoded on its own: by Spark's decoder
 * ({@code ColumnAccessor.decompress}) for fixed-width types, and read where
 * it lies for strings and binaries ({@link CachedVarWidth}).
 */
final class CachedBatches {
    private CachedBatches() {
    }

    /**
     * @param plan the executed plan
     * @param schema the DataFrame's schema
     * @return for each of the DataFrame's columns its index among the cached
     *     ones, or null when the plan is not a row-only scan of the default
     *     cache serializer with columns {@link ColumnCopier} copies
     */
    static int[] columns(SparkPlan plan, StructType schema) {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN || !(plan instanceof InMemoryTableScanExec scan)
                || scan.supportsColumnar() || !CachedVarWidth.readsEveryScheme()) {
            return null;
        }
        InMemoryRelation relation = scan.relation();
        if (!(relation.cacheBuilder().serializer() instanceof DefaultCachedBatchSerializer)) {
            return null;
        }
        Seq<Attribute> selected = scan.output();
        Seq<Attribute> cached = relation.output();
        StructField[] fields = schema.fields();
        if (selected.size() != fields.length) {
            return null;
        }
        int[] columns = new int[fields.length];
        for (int i = 0; i < fields.length; i++) {
            Attribute a = selected.apply(i);
            if (!a.dataType().equals(fields[i].dataType()) || !ColumnCopier.copies(a.dataType())) {
                return null;
            }
            columns[i] = -1;
            for (int j = 0; j < cached.size(); j++) {
                if (cached.apply(j).exprId().equals(a.exprId())) {
                    columns[i] = j;
                }
            }
            if (columns[i] < 0) {
                return null;
            }
        }
        return columns;
    }

    /**
     * @param plan a plan {@link #columns} accepted
     * @return its cached batches
     */
    static RDD<CachedBatch> of(SparkPlan plan) {
        return ((InMemoryTableScanExec) plan).relation().cacheBuilder().cachedColumnBuffers();
    }

    /**
     * Decodes cached batches as the iterator is read; each batch's vectors are
     * reused for the next, so a batch must be copied before moving on.
     *
     * @param batches a partition's cached batches
     * @param schema the DataFrame's schema
     * @param columns from {@link #columns}
     * @return the batches as columns
     */
    static Iterator<ColumnarBatch> decode(Iterator<CachedBatch> batches, StructType schema, int[] columns) {
        StructField[] fields = schema.fields();
        return new Iterator<>() {
            private ColumnVector[] vectors;
            private int capacity;

            @Override
            public boolean hasNext() {
                return batches.hasNext();
            }

            @Override
            public ColumnarBatch next() {
                DefaultCachedBatch batch = (DefaultCachedBatch) batches.next();
                int rows = batch.numRows();
                if (vectors == null || capacity < rows) {
                    capacity = Math.max(rows, 1);
                    vectors = new ColumnVector[fields.length];
                    for (int c = 0; c < fields.length; c++) {
                        DataType type = fields[c].dataType();
                        vectors[c] = type instanceof StringType || type instanceof BinaryType
                                ? new CachedVarWidth(type, type instanceof StringType)
                                : new OnHeapColumnVector(capacity, type);
                    }
                }
                for (int c = 0; c < fields.length; c++) {
                    byte[] bytes = batch.buffers()[columns[c]];
                    if (vectors[c] instanceof CachedVarWidth v) {
                        v.decode(bytes, rows);
                    } else {
                        OnHeapColumnVector v = (OnHeapColumnVector) vectors[c];
                        v.reset();
                        ColumnAccessor$.MODULE$.decompress(bytes, v, fields[c].dataType(), rows);
                    }
                }
                return new ColumnarBatch(vectors, rows);
            }
        };
    }
}
