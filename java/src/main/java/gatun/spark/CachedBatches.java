package gatun.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Iterator;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.columnar.CachedBatch;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.columnar.ColumnAccessor$;
import org.apache.spark.sql.execution.columnar.DefaultCachedBatch;
import org.apache.spark.sql.execution.columnar.DefaultCachedBatchSerializer;
import org.apache.spark.sql.execution.columnar.InMemoryRelation;
import org.apache.spark.sql.execution.columnar.InMemoryTableScanExec;
import org.apache.spark.sql.execution.vectorized.OnHeapColumnVector;
import org.apache.spark.sql.execution.vectorized.WritableColumnVector;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import scala.collection.immutable.Seq;

/**
 * A cached DataFrame's batches as Spark columns, when Spark's own cache scan
 * would give rows: Spark's default cache serializer decodes only booleans and
 * numbers to columns, so one string column makes the whole scan rows. Here
 * each cached column is decoded on its own: by Spark's decoder
 * ({@code ColumnAccessor.decompress}) for fixed-width types, and by
 * {@link #decodeVarWidth} for strings and binaries, whose layout (Spark's
 * {@code NullableColumnBuilder} and compression schemes, native byte order) is
 * read here: a null count, the null rows, a scheme id, then the values.
 */
final class CachedBatches {
    private static final int PASS_THROUGH = 0;
    private static final int RUN_LENGTH = 1;
    private static final int DICTIONARY = 2;

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
                || scan.supportsColumnar()) {
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
    static org.apache.spark.rdd.RDD<CachedBatch> of(SparkPlan plan) {
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
            private OnHeapColumnVector[] vectors;
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
                    vectors = new OnHeapColumnVector[fields.length];
                    for (int c = 0; c < fields.length; c++) {
                        vectors[c] = new OnHeapColumnVector(capacity, fields[c].dataType());
                    }
                }
                for (int c = 0; c < fields.length; c++) {
                    OnHeapColumnVector v = vectors[c];
                    v.reset();
                    byte[] bytes = batch.buffers()[columns[c]];
                    DataType type = fields[c].dataType();
                    if (type instanceof StringType || type instanceof BinaryType) {
                        decodeVarWidth(bytes, v, rows, type instanceof StringType);
                    } else {
                        ColumnAccessor$.MODULE$.decompress(bytes, v, type, rows);
                    }
                }
                return new ColumnarBatch(vectors, rows);
            }
        };
    }

    /**
     * Decodes a cached string or binary column: values are a 4-byte length and
     * the bytes, stored once per non-null row (pass-through), once per run with
     * the run's length after it (run-length), or once in a dictionary that
     * 2-byte indices refer to. Binaries are never compressed, and carry no
     * scheme id.
     */
    static void decodeVarWidth(byte[] bytes, WritableColumnVector out, int rows, boolean compressible) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
        int nulls = b.getInt();
        int nullsAt = b.position();
        b.position(nullsAt + 4 * nulls);
        int scheme = compressible ? b.getInt() : PASS_THROUGH;
        int[] dictionary = null; // value positions in bytes
        if (scheme == DICTIONARY) {
            dictionary = new int[b.getInt()];
            for (int i = 0; i < dictionary.length; i++) {
                dictionary[i] = b.position();
                b.position(b.position() + 4 + b.getInt(b.position()));
            }
        } else if (scheme != PASS_THROUGH && scheme != RUN_LENGTH) {
            throw new IllegalStateException("gatun.spark: cached column in an unknown compression scheme " + scheme);
        }
        int nextNull = 0;
        int run = 0;
        int value = 0; // position of the current value (its length)
        for (int row = 0; row < rows; row++) {
            if (nextNull < nulls && b.getInt(nullsAt + 4 * nextNull) == row) {
                out.putNull(row);
                nextNull++;
                continue;
            }
            if (scheme == DICTIONARY) {
                value = dictionary[b.getShort()];
            } else if (scheme == PASS_THROUGH) {
                value = b.position();
                b.position(value + 4 + b.getInt(value));
            } else if (run == 0) { // run-length: a value, then how many rows repeat it
                value = b.position();
                b.position(value + 4 + b.getInt(value));
                run = b.getInt();
            }
            run--;
            out.putByteArray(row, bytes, value + 4, b.getInt(value));
        }
    }

    /** A task's work: its cached batches decoded, then copied as {@link ColumnarCopy} copies. */
    static final class Copy implements Function2<Integer, Iterator<CachedBatch>, Iterator<Integer>> {
        private static final long serialVersionUID = 1L;
        private final ColumnarCopy copy;
        private final StructType schema;
        private final int[] columns;

        Copy(ColumnarCopy copy, StructType schema, int[] columns) {
            this.copy = copy;
            this.schema = schema;
            this.columns = columns;
        }

        @Override
        public Iterator<Integer> call(Integer partition, Iterator<CachedBatch> batches) {
            return copy.call(partition, decode(batches, schema, columns));
        }
    }
}
