package gatun.spark;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import org.apache.spark.sql.execution.columnar.ColumnType;
import org.apache.spark.sql.execution.columnar.ColumnType$;
import org.apache.spark.sql.execution.columnar.compression.CompressionScheme;
import org.apache.spark.sql.execution.columnar.compression.CompressionScheme$;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarArray;
import org.apache.spark.sql.vectorized.ColumnarMap;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;
import scala.jdk.javaapi.CollectionConverters;

/**
 * A cached string or binary column read where it lies: decoding finds where
 * each row's bytes are in the cached buffer, and {@link ColumnCopier} copies
 * them from there straight into Arrow (one copy, no object per value).
 *
 * <p>The layout is Spark's ({@code NullableColumnBuilder} and its compression
 * schemes, native byte order): a null count, the null rows, a scheme id (not
 * for binaries, which are never compressed), then values as a 4-byte length
 * and the bytes, stored once per non-null row (pass-through), once per run
 * with the run's length after it (run-length), or once in a dictionary that
 * 2-byte indices refer to.
 */
final class CachedVarWidth extends ColumnVector {
    private static final int PASS_THROUGH = 0;
    private static final int RUN_LENGTH = 1;
    private static final int DICTIONARY = 2;

    // Spark writes the cache in native order, which ColumnarSource's callers check is little-endian.
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.nativeOrder());
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class,
            ByteOrder.nativeOrder());

    /** Whether Spark's cache may write strings or binaries in a scheme this class does not read. */
    private static final boolean UNKNOWN_SCHEMES = unknownSchemes();

    private final boolean compressible;
    private byte[] bytes = new byte[0];
    private int[] starts = new int[0]; // where each row's bytes start; -1 for a null
    private int[] lengths = new int[0];
    private int nulls;

    /**
     * @param type {@code StringType} or {@code BinaryType}
     * @param compressible whether the cache compresses the type (strings, not binaries)
     */
    CachedVarWidth(DataType type, boolean compressible) {
        super(type);
        this.compressible = compressible;
    }

    /**
     * Whether this class reads every scheme this Spark's cache may write
     * strings and binaries in (a later Spark with a new scheme for them takes
     * the row path instead of failing).
     *
     * @return false when Spark has a scheme for them this class does not know
     */
    static boolean readsEveryScheme() {
        return !UNKNOWN_SCHEMES;
    }

    private static boolean unknownSchemes() {
        ColumnType<?> string = ColumnType$.MODULE$.apply(DataTypes.StringType);
        ColumnType<?> binary = ColumnType$.MODULE$.apply(DataTypes.BinaryType);
        for (CompressionScheme scheme : CollectionConverters.asJava(CompressionScheme$.MODULE$.all())) {
            int id = scheme.typeId();
            boolean known = id == PASS_THROUGH || (id == RUN_LENGTH || id == DICTIONARY) && !scheme.supports(binary);
            if ((scheme.supports(string) || scheme.supports(binary)) && !known) {
                return true;
            }
        }
        return false;
    }

    /**
     * Reads a cached column's layout; the buffer is referred to, not copied.
     *
     * @param buffer the cached column
     * @param rows its row count
     */
    void decode(byte[] buffer, int rows) {
        bytes = buffer;
        if (starts.length < rows) {
            starts = new int[rows];
            lengths = new int[rows];
        }
        int pos = 0;
        nulls = intAt(buffer, pos);
        int nullsAt = pos + 4;
        pos = nullsAt + 4 * nulls;
        int scheme = PASS_THROUGH;
        if (compressible) {
            scheme = intAt(buffer, pos);
            pos += 4;
        }
        int[] dictionary = null; // the entries' positions
        if (scheme == DICTIONARY) {
            dictionary = new int[intAt(buffer, pos)];
            pos += 4;
            for (int i = 0; i < dictionary.length; i++) {
                dictionary[i] = pos;
                pos += 4 + intAt(buffer, pos);
            }
        } else if (scheme != PASS_THROUGH && scheme != RUN_LENGTH) {
            throw new IllegalStateException("gatun.spark: a cached column in compression scheme " + scheme
                    + ", which strings never use");
        }
        int nextNull = nulls > 0 ? intAt(buffer, nullsAt) : -1;
        int nullsSeen = 0;
        int run = 0;
        int value = 0; // the current value's position (its length)
        for (int row = 0; row < rows; row++) {
            if (row == nextNull) {
                starts[row] = -1;
                nullsSeen++;
                nextNull = nullsSeen < nulls ? intAt(buffer, nullsAt + 4 * nullsSeen) : -1;
                continue;
            }
            if (scheme == DICTIONARY) {
                value = dictionary[(short) SHORT.get(buffer, pos)];
                pos += 2;
            } else if (scheme == PASS_THROUGH) {
                value = pos;
                pos += 4 + intAt(buffer, pos);
            } else if (run == 0) {
                value = pos;
                pos += 4 + intAt(buffer, pos);
                run = intAt(buffer, pos);
                pos += 4;
            }
            run--;
            starts[row] = value + 4;
            lengths[row] = intAt(buffer, value);
        }
    }

    private static int intAt(byte[] buffer, int pos) {
        return (int) INT.get(buffer, pos);
    }

    /** @return the byte length of a non-null row's value */
    int length(int row) {
        return lengths[row];
    }

    /**
     * Copies a non-null row's value to memory the caller has checked holds it.
     *
     * @param row the row
     * @param address where its bytes go
     */
    void copyTo(int row, long address) {
        Platform.copyMemory(bytes, Platform.BYTE_ARRAY_OFFSET + starts[row], null, address, lengths[row]);
    }

    @Override
    public void close() {
        bytes = null;
    }

    @Override
    public boolean hasNull() {
        return nulls > 0;
    }

    @Override
    public int numNulls() {
        return nulls;
    }

    @Override
    public boolean isNullAt(int row) {
        return starts[row] < 0;
    }

    @Override
    public UTF8String getUTF8String(int row) {
        return isNullAt(row) ? null : UTF8String.fromBytes(bytes, starts[row], lengths[row]);
    }

    @Override
    public byte[] getBinary(int row) {
        if (isNullAt(row)) {
            return null;
        }
        byte[] out = new byte[lengths[row]];
        System.arraycopy(bytes, starts[row], out, 0, out.length);
        return out;
    }

    private UnsupportedOperationException notVarWidth() {
        return new UnsupportedOperationException("a cached " + dataType().simpleString() + " column");
    }

    @Override
    public boolean getBoolean(int row) {
        throw notVarWidth();
    }

    @Override
    public byte getByte(int row) {
        throw notVarWidth();
    }

    @Override
    public short getShort(int row) {
        throw notVarWidth();
    }

    @Override
    public int getInt(int row) {
        throw notVarWidth();
    }

    @Override
    public long getLong(int row) {
        throw notVarWidth();
    }

    @Override
    public float getFloat(int row) {
        throw notVarWidth();
    }

    @Override
    public double getDouble(int row) {
        throw notVarWidth();
    }

    @Override
    public ColumnarArray getArray(int row) {
        throw notVarWidth();
    }

    @Override
    public ColumnarMap getMap(int row) {
        throw notVarWidth();
    }

    @Override
    public Decimal getDecimal(int row, int precision, int scale) {
        throw notVarWidth();
    }

    @Override
    public ColumnVector getChild(int ordinal) {
        throw notVarWidth();
    }
}
