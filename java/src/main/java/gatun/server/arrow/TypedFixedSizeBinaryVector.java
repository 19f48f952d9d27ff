package gatun.server.arrow;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.util.CallBack;
import org.apache.arrow.vector.util.TransferPair;

/**
 * A fixed-size binary vector whose {@code TransferPair} keeps its field.
 *
 * <p>Arrow Java's (18 and 19.0.0) {@code FixedSizeBinaryVector} transfers (so
 * {@code VectorSchemaRoot.slice}) into a vector made from the name and the
 * byte width only: the field's metadata is gone, and with it the extension
 * type a {@code uuid} column is ({@code ARROW:extension:name = arrow.uuid}).
 */
final class TypedFixedSizeBinaryVector extends FixedSizeBinaryVector {
    TypedFixedSizeBinaryVector(Field field, BufferAllocator allocator) {
        super(field, allocator);
    }

    @Override
    public TransferPair getTransferPair(String ref, BufferAllocator allocator) {
        Field field = getField();
        return makeTransferPair(new TypedFixedSizeBinaryVector(
                new Field(ref, field.getFieldType(), field.getChildren()), allocator));
    }

    @Override
    public TransferPair getTransferPair(String ref, BufferAllocator allocator, CallBack callBack) {
        return getTransferPair(ref, allocator);
    }
}
