package gatun.server.arrow;

import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.complex.UnionVector;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.util.CallBack;
import org.apache.arrow.vector.util.TransferPair;

/**
 * A sparse union vector that keeps the type ids it was declared with.
 *
 * <p>Arrow Java's (18 and 19.0.0) {@code UnionVector} maps the type ids in its data to its
 * children through the field it is created with, but reports the children's
 * minor-type ordinals as the type ids in {@link #getField()}, and its
 * {@code TransferPair} (so {@code VectorSchemaRoot.slice}) creates the target
 * with no field at all: a slice of a union Python sent with type ids 0 and 1
 * says {@code BIGINT} and {@code VARCHAR} ordinals while its data keeps 0 and
 * 1, so Java reads nulls from it and Python refuses it. This class keeps the
 * declared field through both (see {@link TypedVectors}).
 */
final class TypedUnionVector extends UnionVector {
    private final FieldType declared;

    private TypedUnionVector(String name, BufferAllocator allocator, FieldType declared, CallBack callBack) {
        super(name, allocator, declared, callBack);
        this.declared = declared;
    }

    /**
     * A vector for a sparse union field.
     *
     * @param field the field
     * @param allocator the allocator
     * @return the vector, its children made
     */
    static TypedUnionVector create(Field field, BufferAllocator allocator) {
        return create(field.getName(), field.getFieldType(), field.getChildren(), allocator, null);
    }

    private static TypedUnionVector create(String name, FieldType declared, List<Field> children,
            BufferAllocator allocator, CallBack callBack) {
        TypedUnionVector v = new TypedUnionVector(name, allocator, declared, callBack);
        // Maps each declared type id to its child (UnionVector does it here).
        v.initializeChildrenFromFields(children);
        return v;
    }

    /** The declared type (its type ids), with the children as they are now. */
    @Override
    public Field getField() {
        Field current = super.getField();
        return new Field(current.getName(), declared, current.getChildren());
    }

    @Override
    public TransferPair getTransferPair(BufferAllocator allocator) {
        return getTransferPair(getName(), allocator, null);
    }

    @Override
    public TransferPair getTransferPair(String ref, BufferAllocator allocator) {
        return getTransferPair(ref, allocator, null);
    }

    @Override
    public TransferPair getTransferPair(String ref, BufferAllocator allocator, CallBack callBack) {
        return makeTransferPair(create(ref, declared, getField().getChildren(), allocator, callBack));
    }

    @Override
    public TransferPair getTransferPair(Field field, BufferAllocator allocator) {
        return getTransferPair(field.getName(), allocator, null);
    }

    @Override
    public TransferPair getTransferPair(Field field, BufferAllocator allocator, CallBack callBack) {
        return getTransferPair(field.getName(), allocator, callBack);
    }
}
