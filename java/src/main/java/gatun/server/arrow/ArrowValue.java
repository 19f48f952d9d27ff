package gatun.server.arrow;

import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;

/**
 * The Arrow data a Python proxy refers to, by value: a Python
 * {@code JavaObject} of a {@code VectorSchemaRoot}, {@code FieldVector} or
 * {@code ArrowReader} is an Arrow producer ({@code __arrow_c_stream__},
 * {@code __arrow_c_array__}) that calls {@link #of}. Returning the object
 * is what makes it cross as data: the dispatcher exports a root as a pyarrow
 * {@code Table}, a vector as an {@code Array} and a reader as a
 * {@code RecordBatchReader}.
 */
public final class ArrowValue {
    private ArrowValue() {
    }

    /**
     * Returns {@code value} itself, so that it crosses to Python by value.
     *
     * @param value the object a Python proxy refers to
     * @return {@code value}
     * @throws IllegalArgumentException if {@code value} is not Arrow data (a
     *     {@code VectorSchemaRoot}, {@code FieldVector} or {@code ArrowReader})
     */
    public static Object of(Object value) {
        if (value instanceof ArrowReader) {
            return value;
        }
        return array(value);
    }

    /**
     * Returns {@code value} itself if it is one batch of data, so that it
     * crosses to Python by value ({@code __arrow_c_array__}).
     *
     * @param value the object a Python proxy refers to
     * @return {@code value}
     * @throws IllegalArgumentException if {@code value} is a reader (a stream, left
     *     unread) or not Arrow data
     */
    public static Object array(Object value) {
        if (value instanceof VectorSchemaRoot || value instanceof FieldVector) {
            return value;
        }
        if (value instanceof ArrowReader) {
            throw new IllegalArgumentException("a " + value.getClass().getName() + " is a stream of batches, "
                    + "not one array: read it with __arrow_c_stream__ (pa.table, pa.RecordBatchReader.from_stream)");
        }
        throw new IllegalArgumentException("a " + (value == null ? "null" : value.getClass().getName())
                + " is not Arrow data: only a proxy of a VectorSchemaRoot, a FieldVector or an ArrowReader "
                + "is an Arrow producer (__arrow_c_stream__ / __arrow_c_array__)");
    }
}
