package gatun.server.arrow;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.UnionMode;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The vectors a batch from Python is loaded into: Arrow Java's, except for
 * the top-level columns whose own {@code TransferPair} (so a
 * {@code VectorSchemaRoot.slice} by JVM code) would lose their declared type:
 * a sparse union ({@link TypedUnionVector}: its type ids) and a fixed-size
 * binary ({@link TypedFixedSizeBinaryVector}: its metadata, an extension type
 * such as {@code arrow.uuid}). Nested columns are made by their parent vectors
 * and keep Arrow Java's behaviour.
 */
final class TypedVectors {
    private TypedVectors() {
    }

    /**
     * {@code VectorSchemaRoot.create(schema, allocator)} with the vectors above.
     *
     * @param schema the schema
     * @param allocator the allocator of the vectors
     * @return an empty root with the schema
     */
    static VectorSchemaRoot createRoot(Schema schema, BufferAllocator allocator) {
        List<FieldVector> vectors = new ArrayList<>(schema.getFields().size());
        for (Field f : schema.getFields()) {
            vectors.add(create(f, allocator));
        }
        return new VectorSchemaRoot(schema, vectors, 0);
    }

    private static FieldVector create(Field f, BufferAllocator allocator) {
        ArrowType t = f.getType();
        if (t instanceof ArrowType.Union && ((ArrowType.Union) t).getMode() == UnionMode.Sparse) {
            return TypedUnionVector.create(f, allocator);
        }
        if (t instanceof ArrowType.FixedSizeBinary) {
            return new TypedFixedSizeBinaryVector(f, allocator);
        }
        return f.createVector(allocator);
    }
}
