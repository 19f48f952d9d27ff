package gatun.spark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ArrowColumnVector;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * Local mode's createDataFrame: the table is parked ({@link Parked}) and read
 * in place by tasks in this JVM, each over a range of rows, through
 * {@link ArrowColumnVector}s; no copy, no conversion before Spark's own scan.
 */
final class InPlaceScan {
    /** Fewer rows than this per partition cost more in tasks than they save. */
    static final int MIN_ROWS_PER_PARTITION = 1 << 16;

    private InPlaceScan() {
    }

    /**
     * @param rows the table's rows
     * @param requested the caller's partition count; 0 or less for automatic
     * @param cores the context's default parallelism
     * @return partitions to cut the table into
     */
    static int partitions(long rows, int requested, int cores) {
        if (requested > 0) {
            return requested;
        }
        long byRows = (rows + MIN_ROWS_PER_PARTITION - 1) / MIN_ROWS_PER_PARTITION;
        return (int) Math.max(1, Math.min(Math.max(1, cores), byRows));
    }

    /**
     * Builds a DataFrame over a table read in place; takes ownership of {@code root}.
     *
     * @param session the session (local mode)
     * @param root the table
     * @param numPartitions partitions, 0 or less for automatic
     * @return the DataFrame
     */
    static Dataset<Row> create(SparkSession session, VectorSchemaRoot root, int numPartitions) {
        SparkContext sc = session.sparkContext();
        StructType schema;
        int parts;
        String context;
        try {
            schema = SparkSchemas.fromArrow(root.getSchema());
            checkReadable(root);
            parts = partitions(root.getRowCount(), numPartitions, sc.defaultParallelism());
            context = SparkContexts.watch(sc);
        } catch (Throwable e) {
            root.close();
            throw e;
        }
        long id = Parked.parkTable(root, context);
        try {
            int rows = root.getRowCount();
            List<int[]> ranges = new ArrayList<>(parts);
            for (int p = 0; p < parts; p++) {
                ranges.add(new int[] {(int) ((long) rows * p / parts), (int) ((long) rows * (p + 1) / parts)});
            }
            RDD<InternalRow> rdd = JavaSparkContext.fromSparkContext(sc).parallelize(ranges, parts)
                    .mapPartitions(new ReadRange(id), true).rdd();
            // The action must not reach the RDD, or the RDD would never become unreachable.
            long parked = id;
            Parked.CLEANER.register(rdd, () -> Parked.dropTable(parked));
            return session.internalCreateDataFrame(rdd, schema, false);
        } catch (Throwable e) {
            Parked.dropTable(id);
            throw e;
        }
    }

    /** Refuses, by column, a vector Spark's ArrowColumnVector cannot read. */
    private static void checkReadable(VectorSchemaRoot root) {
        for (FieldVector v : root.getFieldVectors()) {
            if (v.getField().getDictionary() != null) {
                throw new IllegalArgumentException("column '" + v.getName() + "' is dictionary-encoded: "
                        + "decode it first (Spark reads plain Arrow columns)");
            }
            try {
                new ArrowColumnVector(v); // no close(): that would close the table's vector
            } catch (Exception e) {
                throw SparkSchemas.unsupported(v.getField(), e);
            }
        }
    }

    /** A task's work: the rows of one range of a parked table. */
    private static final class ReadRange implements FlatMapFunction<Iterator<int[]>, InternalRow> {
        private static final long serialVersionUID = 1L;
        private final long table;

        ReadRange(long table) {
            this.table = table;
        }

        @Override
        public Iterator<InternalRow> call(Iterator<int[]> ranges) {
            if (!ranges.hasNext()) {
                return Collections.emptyIterator();
            }
            int[] range = ranges.next();
            VectorSchemaRoot root = Parked.lease(table);
            TaskContext task = TaskContext.get();
            if (task != null) {
                task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) ctx -> Parked.unlease(table));
            }
            List<FieldVector> vectors = root.getFieldVectors();
            ColumnVector[] columns = new ColumnVector[vectors.size()];
            for (int i = 0; i < columns.length; i++) {
                columns[i] = new ArrowColumnVector(vectors.get(i));
            }
            // getRow reuses one mutable row: Spark's RDD scan projects each row before the next.
            ColumnarBatch batch = new ColumnarBatch(columns, root.getRowCount());
            return new Iterator<>() {
                private int next = range[0];

                @Override
                public boolean hasNext() {
                    return next < range[1];
                }

                @Override
                public InternalRow next() {
                    if (next >= range[1]) {
                        throw new NoSuchElementException();
                    }
                    return batch.getRow(next++);
                }
            };
        }
    }
}
