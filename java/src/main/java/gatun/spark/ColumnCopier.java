package gatun.spark;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BaseLargeVariableWidthVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.ByteType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.ShortType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.TimestampNTZType;
import org.apache.spark.sql.types.TimestampType;
import org.apache.spark.sql.execution.vectorized.WritableColumnVector;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Copies a run of a Spark {@link ColumnVector} into the Arrow vector Spark's
 * {@code ArrowWriter} would write for its type (the one
 * {@link SparkSchemas#toArrow} gives), at a row position, growing the vector as
 * it goes. Values are copied, never referenced: a scan may reuse its batch once
 * the iterator moves on.
 *
 * <p>Fixed-width values move in bulk ({@code getLongs} and the like, then one
 * memory copy into the Arrow buffer); strings and binaries one value at a
 * time, since their bytes are not contiguous in every Spark vector (a
 * dictionary-encoded Parquet column).
 */
abstract class ColumnCopier {
    /**
     * Copies rows {@code [from, from + n)} of {@code src} to rows
     * {@code [at, at + n)} of {@code dst}; rows before {@code at} are written.
     *
     * @param src the Spark column
     * @param from its first row to copy
     * @param n how many rows
     * @param dst the Arrow vector (allocated)
     * @param at where the rows go in it
     */
    abstract void copy(ColumnVector src, int from, int n, FieldVector dst, int at);

    /**
     * Ends a vector at {@code rows} rows, all copied.
     *
     * @param dst the vector
     * @param rows its row count
     */
    void finish(FieldVector dst, int rows) {
        dst.setValueCount(rows);
    }

    /**
     * @param type a Spark column type
     * @return whether a copier exists for it
     */
    static boolean copies(DataType type) {
        return of(type, false) != null;
    }

    /**
     * @param type a Spark column type
     * @param largeVarTypes whether strings and binaries are large (64-bit offsets)
     * @return its copier, or null if the type is left to the row path
     */
    static ColumnCopier of(DataType type, boolean largeVarTypes) {
        if (type instanceof BooleanType) {
            return new Booleans();
        }
        if (type instanceof ByteType) {
            return new Fixed(1, (src, from, n, address) -> Platform.copyMemory(src.getBytes(from, n),
                    Platform.BYTE_ARRAY_OFFSET, null, address, n));
        }
        if (type instanceof ShortType) {
            return new Fixed(2, (src, from, n, address) -> Platform.copyMemory(src.getShorts(from, n),
                    Platform.SHORT_ARRAY_OFFSET, null, address, 2L * n));
        }
        if (type instanceof IntegerType || type instanceof DateType) { // a date is days since the epoch
            return new Fixed(4, (src, from, n, address) -> Platform.copyMemory(src.getInts(from, n),
                    Platform.INT_ARRAY_OFFSET, null, address, 4L * n));
        }
        if (type instanceof LongType || type instanceof TimestampType || type instanceof TimestampNTZType) {
            // timestamps are microseconds, as in Arrow's timestamp[us] Spark gives them
            return new Fixed(8, (src, from, n, address) -> Platform.copyMemory(src.getLongs(from, n),
                    Platform.LONG_ARRAY_OFFSET, null, address, 8L * n));
        }
        if (type instanceof FloatType) {
            return new Fixed(4, (src, from, n, address) -> Platform.copyMemory(src.getFloats(from, n),
                    Platform.FLOAT_ARRAY_OFFSET, null, address, 4L * n));
        }
        if (type instanceof DoubleType) {
            return new Fixed(8, (src, from, n, address) -> Platform.copyMemory(src.getDoubles(from, n),
                    Platform.DOUBLE_ARRAY_OFFSET, null, address, 8L * n));
        }
        if (type instanceof StringType) {
            return new VarWidth(true, largeVarTypes);
        }
        if (type instanceof BinaryType) {
            return new VarWidth(false, largeVarTypes);
        }
        return null;
    }

    /**
     * Marks rows {@code [at, at + n)} valid where {@code src}'s rows are not
     * null; the buffer's bits start cleared (allocation and growth zero them).
     */
    static void validity(ColumnVector src, int from, int n, ArrowBuf bits, int at) {
        if (src.hasNull()) {
            for (int i = 0; i < n; i++) {
                if (!src.isNullAt(from + i)) {
                    BitVectorHelper.setBit(bits, at + i);
                }
            }
            return;
        }
        int i = 0;
        for (; i < n && ((at + i) & 7) != 0; i++) { // up to a byte boundary
            BitVectorHelper.setBit(bits, at + i);
        }
        int bytes = (n - i) >>> 3;
        if (bytes > 0) {
            Platform.setMemory(bits.memoryAddress() + ((at + i) >>> 3), (byte) 0xff, bytes); // whole bytes valid
            i += bytes << 3;
        }
        for (; i < n; i++) { // the last byte's bits, not beyond the run
            BitVectorHelper.setBit(bits, at + i);
        }
    }

    /** Moves {@code n} values from row {@code from} to the memory at {@code address}. */
    @FunctionalInterface
    private interface Bulk {
        void copy(ColumnVector src, int from, int n, long address);
    }

    /** Numbers, dates and timestamps: values in bulk, then the validity bits. */
    private static final class Fixed extends ColumnCopier {
        private final int width;
        private final Bulk bulk;

        Fixed(int width, Bulk bulk) {
            this.width = width;
            this.bulk = bulk;
        }

        @Override
        void copy(ColumnVector src, int from, int n, FieldVector dst, int at) {
            BaseFixedWidthVector v = (BaseFixedWidthVector) dst;
            while (v.getValueCapacity() < at + n) {
                v.reAlloc();
            }
            // Bulk reads of a vector that is not Spark's own (an ArrowColumnVector) refuse a null
            // row; the window reads it as zero, as Spark's vectors do.
            ColumnVector values = src.hasNull() && !(src instanceof WritableColumnVector)
                    && !(src instanceof OffsetColumnVector) ? new OffsetColumnVector(src, 0, from + n) : src;
            bulk.copy(values, from, n, v.getDataBuffer().memoryAddress() + (long) at * width);
            validity(src, from, n, v.getValidityBuffer(), at);
        }
    }

    /** Booleans: Arrow packs them in bits. */
    private static final class Booleans extends ColumnCopier {
        @Override
        void copy(ColumnVector src, int from, int n, FieldVector dst, int at) {
            BaseFixedWidthVector v = (BaseFixedWidthVector) dst;
            while (v.getValueCapacity() < at + n) {
                v.reAlloc();
            }
            ArrowBuf data = v.getDataBuffer();
            boolean nulls = src.hasNull();
            for (int i = 0; i < n; i++) {
                if (!(nulls && src.isNullAt(from + i)) && src.getBoolean(from + i)) {
                    BitVectorHelper.setBit(data, at + i);
                }
            }
            validity(src, from, n, v.getValidityBuffer(), at);
        }
    }

    /** Strings and binaries, with 32-bit or (large) 64-bit offsets. */
    private static final class VarWidth extends ColumnCopier {
        private final boolean utf8;
        private final boolean large;

        VarWidth(boolean utf8, boolean large) {
            this.utf8 = utf8;
            this.large = large;
        }

        @Override
        void copy(ColumnVector src, int from, int n, FieldVector dst, int at) {
            while (dst.getValueCapacity() < at + n) {
                if (large) {
                    ((BaseLargeVariableWidthVector) dst).reallocValidityAndOffsetBuffers();
                } else {
                    ((BaseVariableWidthVector) dst).reallocValidityAndOffsetBuffers();
                }
            }
            ArrowBuf offsets = dst.getOffsetBuffer();
            long end = large ? offsets.getLong(8L * at) : offsets.getInt(4L * at);
            long offsetsAt = offsets.memoryAddress();
            boolean nulls = src.hasNull();
            CachedVarWidth cached = src instanceof CachedVarWidth c ? c : null;
            for (int i = 0; i < n; i++) {
                int row = from + i;
                if (!(nulls && src.isNullAt(row))) {
                    end = cached != null ? append(cached, row, dst, end) : append(src, row, dst, end);
                }
                // unchecked writes: the offsets buffer was grown for at + n rows above
                if (large) {
                    Platform.putLong(null, offsetsAt + 8L * (at + i + 1), end);
                } else if (end > Integer.MAX_VALUE) {
                    throw new IllegalStateException("gatun.spark: a batch's " + (utf8 ? "strings" : "binaries")
                            + " exceed 2 GiB; set " + SparkSchemas.LARGE_VAR_TYPES + "=true");
                } else {
                    Platform.putInt(null, offsetsAt + 4L * (at + i + 1), (int) end);
                }
            }
            validity(src, from, n, dst.getValidityBuffer(), at);
        }

        /** Appends a row's value at {@code end} of the data; returns the new end. */
        private long append(ColumnVector src, int row, FieldVector dst, long end) {
            UTF8String s = utf8 ? src.getUTF8String(row) : null;
            byte[] b = utf8 ? null : src.getBinary(row);
            int len = utf8 ? s.numBytes() : b.length;
            ArrowBuf data = room(dst, end + len);
            if (utf8) {
                s.writeToMemory(null, data.memoryAddress() + end);
            } else {
                data.setBytes(end, b, 0, len);
            }
            return end + len;
        }

        /** As above, from the cache's buffer: no object per value. */
        private long append(CachedVarWidth src, int row, FieldVector dst, long end) {
            int len = src.length(row);
            src.copyTo(row, room(dst, end + len).memoryAddress() + end);
            return end + len;
        }

        /** @return the data buffer, grown to hold {@code bytes} */
        private ArrowBuf room(FieldVector dst, long bytes) {
            while (dst.getDataBuffer().capacity() < bytes) {
                if (large) {
                    ((BaseLargeVariableWidthVector) dst).reallocDataBuffer();
                } else {
                    ((BaseVariableWidthVector) dst).reallocDataBuffer();
                }
            }
            return dst.getDataBuffer();
        }

        @Override
        void finish(FieldVector dst, int rows) {
            // every row up to rows is written: without this, setValueCount would "fill" them as empty
            if (large) {
                ((BaseLargeVariableWidthVector) dst).setLastSet(rows - 1);
            } else {
                ((BaseVariableWidthVector) dst).setLastSet(rows - 1);
            }
            dst.setValueCount(rows);
        }
    }
}
