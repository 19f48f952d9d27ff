package gatun.server.arrow;

import java.util.List;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseVariableWidthViewVector;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.validate.ValidateVectorBufferVisitor;

/**
 * Arrow Java's buffer checks, plus the view types (Utf8View, BinaryView) its
 * visitor refuses outright: a vector loaded from Python's descriptor is only
 * used once every buffer it will read is known to be large enough.
 */
final class BufferCheck extends ValidateVectorBufferVisitor {
    /**
     * A view vector: the validity and view buffers cover every row, and each
     * non-null view longer than its inline part names a data buffer that
     * holds all its bytes.
     */
    @Override
    public Void visit(BaseVariableWidthViewVector vector, Void value) {
        int rows = vector.getValueCount();
        ArrowBuf validity = vector.getValidityBuffer();
        ArrowBuf views = vector.getDataBuffer();
        if (validity.capacity() < BitVectorHelper.getValidityBufferSizeFromCount(rows)) {
            throw invalid(vector, "validity buffer of " + validity.capacity() + " bytes for " + rows + " rows");
        }
        long viewBytes = (long) rows * BaseVariableWidthViewVector.ELEMENT_SIZE;
        if (views.capacity() < viewBytes) {
            throw invalid(vector, "view buffer of " + views.capacity() + " bytes for " + rows + " rows");
        }
        List<ArrowBuf> data = vector.getDataBuffers();
        for (int i = 0; i < rows; i++) {
            if (vector.isNull(i)) {
                continue;
            }
            long at = (long) i * BaseVariableWidthViewVector.ELEMENT_SIZE;
            int length = views.getInt(at);
            if (length < 0) {
                throw invalid(vector, "row " + i + " has length " + length);
            }
            if (length <= BaseVariableWidthViewVector.INLINE_SIZE) {
                continue; // the bytes are in the view itself
            }
            // Layout of a long view: length, 4-byte prefix, buffer index, offset.
            int buffer = views.getInt(at + 8);
            int offset = views.getInt(at + 12);
            if (buffer < 0 || buffer >= data.size()) {
                throw invalid(vector, "row " + i + " names data buffer " + buffer + " of " + data.size());
            }
            if (offset < 0 || (long) offset + length > data.get(buffer).capacity()) {
                throw invalid(vector, "row " + i + " reads bytes " + offset + ".." + ((long) offset + length)
                        + " of a " + data.get(buffer).capacity() + "-byte data buffer");
            }
        }
        return null;
    }

    private static IllegalArgumentException invalid(BaseVariableWidthViewVector vector, String what) {
        return new IllegalArgumentException("field '" + vector.getName() + "': " + what);
    }
}
