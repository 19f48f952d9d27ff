package gatuntest;

import gatun.server.arrow.ArrowBridge;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;

/** Table operations the Arrow tests call from Python on roots Python sent. */
public final class TableOps {
    private TableOps() {
    }

    /** Sum of the non-null values of a BIGINT column. */
    public static long sum(VectorSchemaRoot in, String column) {
        BigIntVector v = (BigIntVector) in.getVector(column);
        long s = 0;
        for (int i = 0; i < in.getRowCount(); i++) {
            if (!v.isNull(i)) {
                s += v.get(i);
            }
        }
        return s;
    }

    /** Number of null values in a column. */
    public static int nulls(VectorSchemaRoot in, String column) {
        return in.getVector(column).getNullCount();
    }

    /** Rows whose BIGINT {@code column} is non-null and greater than {@code threshold}, as a new root. */
    public static VectorSchemaRoot filterGreater(VectorSchemaRoot in, String column, long threshold) {
        BigIntVector key = (BigIntVector) in.getVector(column);
        VectorSchemaRoot out = VectorSchemaRoot.create(in.getSchema(), ArrowBridge.allocator());
        out.allocateNew();
        int n = 0;
        for (int i = 0; i < in.getRowCount(); i++) {
            if (!key.isNull(i) && key.get(i) > threshold) {
                for (FieldVector src : in.getFieldVectors()) {
                    out.getVector(src.getName()).copyFromSafe(i, n, src);
                }
                n++;
            }
        }
        out.setRowCount(n);
        return out;
    }

    /** A copy of the root on the bridge's allocator (it outlives the input). */
    public static VectorSchemaRoot copy(VectorSchemaRoot in) {
        VectorSchemaRoot out = VectorSchemaRoot.create(in.getSchema(), ArrowBridge.allocator());
        out.allocateNew();
        for (int i = 0; i < in.getRowCount(); i++) {
            for (FieldVector src : in.getFieldVectors()) {
                out.getVector(src.getName()).copyFromSafe(i, i, src);
            }
        }
        out.setRowCount(in.getRowCount());
        return out;
    }

    /** Bytes the bridge's allocator holds (Python's buffers wrapped in place and Java's own). */
    public static long allocated() {
        return ArrowBridge.allocator().getAllocatedMemory();
    }
}
