package gatun.spark;

import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation$;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ArrowColumnVector;
import scala.Option;

/**
 * Local mode's createDataFrame: the table is parked ({@link Parked}) and read
 * in place by tasks in this JVM, each over a range of rows, as columnar
 * batches of {@link ArrowColumnVector}s ({@link InPlaceTable}); no copy, no
 * conversion before Spark's own generated code reads the columns.
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
            // A data source's columns are matched by name, so two of one name would read as one:
            // such a table gets unique names, and the DataFrame renames them back.
            boolean renamed = duplicateNames(schema);
            StructType named = renamed ? numbered(schema) : schema;
            InPlaceTable table = new InPlaceTable(id, named, root.getRowCount(), Parked.bytes(root), parts);
            // The plan holds the table; once it is unreachable the data goes (the action must not reach it).
            long parked = id;
            Parked.CLEANER.register(table, () -> Parked.dropTable(parked));
            LogicalPlan relation = DataSourceV2Relation$.MODULE$.create(table, Option.empty(), Option.empty());
            Dataset<Row> df = org.apache.spark.sql.classic.Dataset.ofRows(session, relation);
            return renamed ? df.toDF(schema.fieldNames()) : df;
        } catch (Throwable e) {
            Parked.dropTable(id);
            throw e;
        }
    }

    private static boolean duplicateNames(StructType schema) {
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String name : schema.fieldNames()) {
            if (!seen.add(name.toLowerCase(java.util.Locale.ROOT))) {
                return true; // Spark's analyser compares names without case by default
            }
        }
        return false;
    }

    /** {@code schema} with its columns named {@code _1, _2, ...}. */
    private static StructType numbered(StructType schema) {
        StructField[] fields = schema.fields().clone();
        for (int i = 0; i < fields.length; i++) {
            fields[i] = new StructField("_" + (i + 1), fields[i].dataType(), fields[i].nullable(),
                    fields[i].metadata());
        }
        return new StructType(fields);
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
}
