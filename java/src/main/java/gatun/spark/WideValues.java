package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.types.Types.MinorType;

/**
 * Keeps 16-byte values (decimal128, decimal256, month-day-nano intervals) on
 * 16-byte boundaries, as Python's side (arrow-rs) requires of every buffer it
 * is handed. Arrow Java puts a fixed-width vector's validity and values in one
 * allocation with the values at a multiple of 8 only, and an IPC message body
 * pads buffers to 8: either can leave a values buffer at 8 mod 16. Such a
 * buffer is copied to an allocation of its own; nothing else is touched.
 */
final class WideValues {
    /** The alignment arrow-rs checks for 16-byte values. */
    static final long ALIGNMENT = 16;

    private WideValues() {
    }

    /**
     * Moves misaligned 16-byte values buffers of {@code root} (nested
     * columns included) to aligned allocations on {@link ArrowBridge#allocator()}.
     *
     * @param root the batch about to be served
     */
    static void align(VectorSchemaRoot root) {
        for (FieldVector v : root.getFieldVectors()) {
            align(v);
        }
    }

    private static void align(FieldVector v) {
        MinorType t = v.getMinorType();
        if (t == MinorType.DECIMAL || t == MinorType.DECIMAL256 || t == MinorType.INTERVALMONTHDAYNANO) {
            ArrowBuf data = v.getDataBuffer();
            if (data.capacity() > 0 && data.memoryAddress() % ALIGNMENT != 0) {
                try (ArrowBuf copy = ArrowBridge.allocator().buffer(data.capacity())) {
                    copy.setBytes(0, data, 0, data.capacity());
                    // loadFieldBuffers takes its own reference to each buffer and drops the old ones.
                    v.loadFieldBuffers(new ArrowFieldNode(v.getValueCount(), v.getNullCount()),
                            List.of(v.getValidityBuffer(), copy));
                }
            }
        }
        for (FieldVector child : v.getChildrenFromFields()) {
            align(child);
        }
    }
}
