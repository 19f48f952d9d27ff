package gatun.spark;

import java.nio.ByteOrder;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.execution.ColumnarToRowExec;
import org.apache.spark.sql.execution.InputAdapter;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.WholeStageCodegenExec;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.collection.immutable.Seq;

/**
 * Finds the plan whose columnar batches are a DataFrame's result as they are:
 * a Parquet or ORC scan under Spark's {@code ColumnarToRow}, or a cached
 * DataFrame whose in-memory scan is columnar (Spark's cache serializer decodes
 * only booleans and numbers to columns; a string column makes it rows).
 */
final class ColumnarSource {
    private ColumnarSource() {
    }

    /**
     * @param plan the executed plan
     * @param schema the DataFrame's schema
     * @return the plan to run {@code executeColumnar()} on, or null when the
     *     result is not a columnar plan's output as it is, or has a column
     *     {@link ColumnCopier} does not copy (the row path then writes it)
     */
    static SparkPlan find(SparkPlan plan, StructType schema) {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            return null; // the copies move Java arrays' bytes into Arrow's little-endian buffers
        }
        SparkPlan p = plan;
        if (p instanceof WholeStageCodegenExec w) {
            p = w.child();
        }
        if (p instanceof ColumnarToRowExec c) {
            p = c.child();
        }
        if (p instanceof InputAdapter a) {
            p = a.child();
        }
        if (!p.supportsColumnar() || !sameColumns(p.output(), schema)) {
            return null;
        }
        for (StructField f : schema.fields()) {
            if (!ColumnCopier.copies(f.dataType())) {
                return null;
            }
        }
        return p;
    }

    /** Whether the plan's columns are the DataFrame's, in its order and types. */
    private static boolean sameColumns(Seq<Attribute> output, StructType schema) {
        StructField[] fields = schema.fields();
        if (output.size() != fields.length) {
            return false;
        }
        for (int i = 0; i < fields.length; i++) {
            if (!output.apply(i).dataType().equals(fields[i].dataType())) {
                return false;
            }
        }
        return true;
    }
}
