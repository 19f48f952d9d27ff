package gatun.server.arrow;

import java.util.List;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseVariableWidthViewVector;
import org.apache.arrow.vector.FieldVector;

/**
 * Zeroes the unused bytes of short views before view vectors cross to Python.
 *
 * <p>The Arrow format requires a view of at most 12 bytes to pad its inline
 * part with zeros, and Python's import checks it. Arrow Java (18, 19.0.0) writes only
 * the bytes it uses when it copies views (e.g. {@code VectorSchemaRoot.slice}
 * into memory that is not zeroed), so its vectors can break the rule. Only
 * bytes that are not zero are written, and only padding: no value changes.
 */
final class ViewPadding {
    private ViewPadding() {
    }

    /** Cleans every view vector among {@code vectors} and their children. */
    static void clean(List<FieldVector> vectors) {
        for (FieldVector v : vectors) {
            if (v instanceof BaseVariableWidthViewVector views) {
                clean(views);
            }
            clean(v.getChildrenFromFields());
        }
    }

    private static void clean(BaseVariableWidthViewVector vector) {
        ArrowBuf views = vector.getDataBuffer();
        int rows = vector.getValueCount();
        for (int i = 0; i < rows; i++) {
            long at = (long) i * BaseVariableWidthViewVector.ELEMENT_SIZE;
            int length = views.getInt(at);
            if (length < 0 || length > BaseVariableWidthViewVector.INLINE_SIZE) {
                continue; // a long view: no padding
            }
            for (long b = at + 4 + length; b < at + BaseVariableWidthViewVector.ELEMENT_SIZE; b++) {
                if (views.getByte(b) != 0) {
                    views.setByte(b, 0);
                }
            }
        }
    }
}
