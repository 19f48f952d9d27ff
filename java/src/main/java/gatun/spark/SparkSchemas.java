package gatun.spark;

import java.lang.reflect.Method;
import java.util.List;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.ArrowUtils;

/**
 * Spark's Arrow schema conversions, as the running Spark version offers them:
 * {@code ArrowUtils.toArrowSchema} gained a fifth parameter
 * ({@code losslessInternalTypes}) between 4.2 and 4.3, so it is found by
 * reflection; unsupported columns are reported by name.
 */
final class SparkSchemas {
    /** The session setting that makes strings and binaries large (64-bit offsets). */
    static final String LARGE_VAR_TYPES = "spark.sql.execution.arrow.useLargeVarTypes";

    private static final Method TO_ARROW_SCHEMA = findToArrowSchema();

    private SparkSchemas() {
    }

    private static Method findToArrowSchema() {
        Method four = null;
        for (Method m : ArrowUtils.class.getMethods()) {
            Class<?>[] p = m.getParameterTypes();
            if (!m.getName().equals("toArrowSchema") || p.length < 4 || p[0] != StructType.class
                    || p[1] != String.class) {
                continue;
            }
            boolean allBoolean = true;
            for (int i = 2; i < p.length; i++) {
                allBoolean &= p[i] == boolean.class;
            }
            if (allBoolean && (four == null || p.length < four.getParameterCount())) {
                four = m; // the shortest: later additions default to false
            }
        }
        if (four == null) {
            throw new IllegalStateException("this Spark has no ArrowUtils.toArrowSchema(StructType, String, "
                    + "boolean, boolean, ...): gatun.spark supports Spark 4.x");
        }
        return four;
    }

    /**
     * Spark's Arrow schema for a Spark schema, as Spark's own Arrow paths build
     * it ({@code toArrow()}, Arrow batches to Python).
     *
     * @param schema the Spark schema
     * @param timeZone the session time zone (for timestamps)
     * @param largeVarTypes whether strings and binaries are large
     * @return the Arrow schema
     * @throws IllegalArgumentException naming the first column Spark cannot convert
     */
    static Schema toArrow(StructType schema, String timeZone, boolean largeVarTypes) {
        try {
            return invokeToArrow(schema, timeZone, largeVarTypes);
        } catch (RuntimeException e) {
            for (StructField f : schema.fields()) { // name the column, which Spark's message does not
                try {
                    invokeToArrow(new StructType(new StructField[] {f}), timeZone, largeVarTypes);
                } catch (RuntimeException one) {
                    throw new IllegalArgumentException("column '" + f.name() + "': Spark type "
                            + f.dataType().simpleString() + " has no Arrow form in Spark's conversion ("
                            + one.getMessage() + "); cast or drop it first", one);
                }
            }
            throw e;
        }
    }

    private static Schema invokeToArrow(StructType schema, String timeZone, boolean largeVarTypes) {
        Object[] args = new Object[TO_ARROW_SCHEMA.getParameterCount()];
        args[0] = schema;
        args[1] = timeZone;
        args[2] = true; // errorOnDuplicatedFieldNames, as Spark's toArrow
        args[3] = largeVarTypes;
        for (int i = 4; i < args.length; i++) {
            args[i] = false;
        }
        try {
            return (Schema) TO_ARROW_SCHEMA.invoke(null, args);
        } catch (ReflectiveOperationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException("ArrowUtils.toArrowSchema failed: " + cause, cause);
        }
    }

    /**
     * The Spark schema of an Arrow schema; a column Spark cannot represent is an
     * error naming it.
     *
     * @param schema the Arrow schema
     * @return the Spark schema
     * @throws IllegalArgumentException naming the first unsupported column and its type
     */
    static StructType fromArrow(Schema schema) {
        List<Field> fields = schema.getFields();
        StructField[] out = new StructField[fields.size()];
        for (int i = 0; i < out.length; i++) {
            Field f = fields.get(i);
            DataType t;
            try {
                t = ArrowUtils.fromArrowField(f);
            } catch (Exception e) {
                throw unsupported(f, e);
            }
            out[i] = new StructField(f.getName(), t, f.isNullable(), org.apache.spark.sql.types.Metadata.empty());
        }
        return new StructType(out);
    }

    static IllegalArgumentException unsupported(Field f, Throwable cause) {
        return new IllegalArgumentException("column '" + f.getName() + "': Arrow type " + describe(f)
                + " is not supported by Spark's Arrow conversion (" + cause.getMessage() + "); cast it first "
                + "(e.g. timestamps to microseconds, date64 to date32, decimal256 to decimal128, "
                + "large_list to list)", cause);
    }

    static String describe(Field f) {
        if (f.getChildren().isEmpty()) {
            return f.getType().toString();
        }
        StringBuilder b = new StringBuilder(f.getType().toString()).append('<');
        for (int i = 0; i < f.getChildren().size(); i++) {
            Field c = f.getChildren().get(i);
            b.append(i == 0 ? "" : ", ").append(c.getName()).append(": ").append(describe(c));
        }
        return b.append('>').toString();
    }

    /** @return the session time zone, as Spark's Arrow conversions use it */
    static String timeZone(SparkSession session) {
        return session.conf().get("spark.sql.session.timeZone");
    }

    /** @return whether the session asks for large strings and binaries */
    static boolean largeVarTypes(SparkSession session) {
        return Boolean.parseBoolean(session.conf().get(LARGE_VAR_TYPES, "false"));
    }

    /**
     * Whether data laid out as {@code actual} can be loaded, buffer for buffer,
     * into vectors of {@code expected} (names and time zones aside).
     *
     * @param actual the data's fields
     * @param expected the fields Spark loads batches into
     * @return whether the buffers line up
     */
    static boolean sameLayout(List<Field> actual, List<Field> expected) {
        if (actual.size() != expected.size()) {
            return false;
        }
        for (int i = 0; i < actual.size(); i++) {
            Field a = actual.get(i);
            Field e = expected.get(i);
            if (a.getDictionary() != null || !sameType(a.getType(), e.getType())
                    || !sameLayout(a.getChildren(), e.getChildren())) {
                return false;
            }
        }
        return true;
    }

    private static boolean sameType(ArrowType a, ArrowType e) {
        if (a instanceof ArrowType.Timestamp ta && e instanceof ArrowType.Timestamp te) {
            return ta.getUnit() == te.getUnit() && (ta.getTimezone() == null) == (te.getTimezone() == null);
        }
        if (a instanceof ArrowType.Map && e instanceof ArrowType.Map) {
            return true; // sortedness does not change the buffers
        }
        return a.equals(e);
    }
}
