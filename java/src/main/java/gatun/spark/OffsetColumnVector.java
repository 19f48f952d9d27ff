package gatun.spark;

import org.apache.spark.sql.types.Decimal;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarArray;
import org.apache.spark.sql.vectorized.ColumnarMap;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * A window on another column vector, starting {@code offset} rows in: how a
 * task reads its range of a parked table without slicing (which would copy
 * offsets and unaligned validity bits). Closing it closes nothing: the
 * table's vectors belong to the table, and Spark closes the vectors of every
 * batch it has read. Its bulk getters read a null row as zero, as Spark's
 * own vectors do ({@link ColumnCopier} copies values in bulk).
 */
final class OffsetColumnVector extends ColumnVector {
    private final ColumnVector data;
    private final int offset;
    private final int rows;
    private final ColumnVector[] children;

    /**
     * @param data the whole column
     * @param offset its first row in this window
     * @param rows rows in the window
     */
    OffsetColumnVector(ColumnVector data, int offset, int rows) {
        super(data.dataType());
        this.data = data;
        this.offset = offset;
        this.rows = rows;
        this.children = new ColumnVector[childCount(data.dataType())];
    }

    private static int childCount(org.apache.spark.sql.types.DataType type) {
        return type instanceof org.apache.spark.sql.types.StructType s ? s.fields().length : 0;
    }

    @Override
    public void close() {
        // the table's vectors are the table's to close
    }

    @Override
    public void closeIfFreeable() {
        // Spark's default closes: the table's vectors outlive every batch over them
    }

    @Override
    public boolean hasNull() {
        return data.hasNull(); // of the whole column: may say yes for a window without nulls
    }

    @Override
    public int numNulls() {
        if (!data.hasNull()) {
            return 0;
        }
        int n = 0;
        for (int i = 0; i < rows; i++) {
            if (data.isNullAt(offset + i)) {
                n++;
            }
        }
        return n;
    }

    @Override
    public boolean isNullAt(int rowId) {
        return data.isNullAt(offset + rowId);
    }

    @Override
    public boolean getBoolean(int rowId) {
        return data.getBoolean(offset + rowId);
    }

    @Override
    public byte getByte(int rowId) {
        return data.getByte(offset + rowId);
    }

    @Override
    public short getShort(int rowId) {
        return data.getShort(offset + rowId);
    }

    @Override
    public int getInt(int rowId) {
        return data.getInt(offset + rowId);
    }

    @Override
    public long getLong(int rowId) {
        return data.getLong(offset + rowId);
    }

    @Override
    public float getFloat(int rowId) {
        return data.getFloat(offset + rowId);
    }

    @Override
    public double getDouble(int rowId) {
        return data.getDouble(offset + rowId);
    }

    // Bulk reads, as Spark's own vectors give them: a null row reads as zero
    // (ColumnVector's defaults call the single getters, which Arrow's refuse
    // for a null row).

    @Override
    public boolean[] getBooleans(int rowId, int count) {
        boolean[] out = new boolean[count];
        for (int i = 0; i < count; i++) {
            if (!data.isNullAt(offset + rowId + i)) {
                out[i] = data.getBoolean(offset + rowId + i);
            }
        }
        return out;
    }

    @Override
    public byte[] getBytes(int rowId, int count) {
        byte[] out = new byte[count];
        for (int i = 0; i < count; i++) {
            if (!data.isNullAt(offset + rowId + i)) {
                out[i] = data.getByte(offset + rowId + i);
            }
        }
        return out;
    }

    @Override
    public short[] getShorts(int rowId, int count) {
        short[] out = new short[count];
        for (int i = 0; i < count; i++) {
            if (!data.isNullAt(offset + rowId + i)) {
                out[i] = data.getShort(offset + rowId + i);
            }
        }
        return out;
    }

    @Override
    public int[] getInts(int rowId, int count) {
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            if (!data.isNullAt(offset + rowId + i)) {
                out[i] = data.getInt(offset + rowId + i);
            }
        }
        return out;
    }

    @Override
    public long[] getLongs(int rowId, int count) {
        long[] out = new long[count];
        for (int i = 0; i < count; i++) {
            if (!data.isNullAt(offset + rowId + i)) {
                out[i] = data.getLong(offset + rowId + i);
            }
        }
        return out;
    }

    @Override
    public float[] getFloats(int rowId, int count) {
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            if (!data.isNullAt(offset + rowId + i)) {
                out[i] = data.getFloat(offset + rowId + i);
            }
        }
        return out;
    }

    @Override
    public double[] getDoubles(int rowId, int count) {
        double[] out = new double[count];
        for (int i = 0; i < count; i++) {
            if (!data.isNullAt(offset + rowId + i)) {
                out[i] = data.getDouble(offset + rowId + i);
            }
        }
        return out;
    }

    @Override
    public ColumnarArray getArray(int rowId) {
        return data.getArray(offset + rowId);
    }

    @Override
    public ColumnarMap getMap(int rowId) {
        return data.getMap(offset + rowId);
    }

    @Override
    public Decimal getDecimal(int rowId, int precision, int scale) {
        return data.getDecimal(offset + rowId, precision, scale);
    }

    @Override
    public UTF8String getUTF8String(int rowId) {
        return data.getUTF8String(offset + rowId);
    }

    @Override
    public byte[] getBinary(int rowId) {
        return data.getBinary(offset + rowId);
    }

    /** A struct's field, in the same window (Spark reads a struct's fields through its children). */
    @Override
    public ColumnVector getChild(int ordinal) {
        ColumnVector child = children[ordinal];
        if (child == null) {
            child = new OffsetColumnVector(data.getChild(ordinal), offset, rows);
            children[ordinal] = child;
        }
        return child;
    }
}
