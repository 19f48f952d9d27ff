package gatun.server.arrow;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.BatchDescriptor;
import gatun.protocol.BufferRef;
import gatun.protocol.FieldNode;
import gatun.protocol.RegionRef;
import gatun.protocol.SchemaDefinition;
import gatun.protocol.Value;
import gatun.protocol.ValueKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.compression.NoCompressionCodec;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Java -&gt; Python: copies a {@code VectorSchemaRoot} (or one {@code FieldVector})
 * into one region of the Java-owned arena and encodes
 * {@code Value{kind=Arrow, arrow, schema (first use), arrow_shape}}.
 *
 * <p>The buffers are those of {@link VectorUnloader} in IPC order, each at a
 * 64-byte aligned offset of the region. Schema ids are Java's own (from 1),
 * per session; a schema travels with the first value that uses it.
 */
final class ArrowExporter {
    private final JavaArena arena;
    private final Map<Schema, Long> schemaIds = new HashMap<>();
    private long nextSchemaId = 1;

    ArrowExporter(JavaArena arena) {
        this.arena = arena;
    }

    /** The result of copying a batch: for tests and the encoder. */
    static final class Exported {
        JavaArena.Region region;
        long[][] buffers; // {offset in region, length}
        List<ArrowFieldNode> nodes;
        List<Long> variadic;
        long length;
        long schemaId;
        byte[] newSchema;
    }

    int encode(FlatBufferBuilder b, Object result) {
        VectorSchemaRoot root;
        String shape;
        if (result instanceof VectorSchemaRoot) {
            root = (VectorSchemaRoot) result;
            shape = "root";
        } else if (result instanceof FieldVector) {
            root = VectorSchemaRoot.of((FieldVector) result); // a view over the vector: never closed
            shape = "vector";
        } else {
            throw new IllegalArgumentException("not an Arrow value: " + result.getClass().getName());
        }
        Exported x = copy(root);
        boolean ok = false;
        try {
            int value = encodeValue(b, x, shape);
            ok = true;
            return value;
        } finally {
            if (!ok) {
                arena.free(x.region);
                forgetSchema(x);
            } else {
                arena.addPeerHold(x.region);
            }
        }
    }

    /** Copies the batch into a fresh region (no hold counted yet). */
    Exported copy(VectorSchemaRoot root) {
        Schema schema = root.getSchema();
        for (Field f : schema.getFields()) {
            if (f.getDictionary() != null) {
                throw new IllegalArgumentException("column " + f.getName() + " is dictionary-encoded; the bridge "
                        + "cannot return dictionary-encoded columns yet (decode it first)");
            }
        }
        Exported x = new Exported();
        try (ArrowRecordBatch batch = new VectorUnloader(root, true, NoCompressionCodec.INSTANCE, true)
                .getRecordBatch()) {
            List<ArrowBuf> bufs = batch.getBuffers();
            long total = 0;
            for (ArrowBuf buf : bufs) {
                total += align(buf.readableBytes());
            }
            try {
                x.region = arena.allocate(total);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot allocate " + total + " bytes in the Java payload arena: "
                        + e.getMessage(), e);
            }
            x.buffers = new long[bufs.size()][];
            long at = 0;
            for (int i = 0; i < bufs.size(); i++) {
                ArrowBuf buf = bufs.get(i);
                long len = buf.readableBytes();
                x.region.mapping().copyIn(x.region.offset() + at, buf.memoryAddress() + buf.readerIndex(), len);
                x.buffers[i] = new long[] {at, len};
                at += align(len);
            }
            x.nodes = batch.getNodes();
            x.variadic = batch.getVariadicBufferCounts();
            x.length = batch.getLength();
        }
        synchronized (schemaIds) {
            Long id = schemaIds.get(schema);
            if (id == null) {
                id = nextSchemaId++;
                schemaIds.put(schema, id);
                ByteBuffer msg = MessageSerializer.serializeMetadata(schema, org.apache.arrow.vector.ipc.message.IpcOption.DEFAULT);
                x.newSchema = new byte[msg.remaining()];
                msg.get(x.newSchema);
            }
            x.schemaId = id;
        }
        return x;
    }

    private void forgetSchema(Exported x) {
        if (x.newSchema != null) {
            synchronized (schemaIds) {
                schemaIds.values().remove(x.schemaId);
            }
        }
    }

    private static long align(long n) {
        return (n + JavaArena.GRANULE - 1) / JavaArena.GRANULE * JavaArena.GRANULE;
    }

    static int encodeValue(FlatBufferBuilder b, Exported x, String shape) {
        int descriptor = encodeDescriptor(b, x);
        int schema = 0;
        if (x.newSchema != null) {
            int ipc = SchemaDefinition.createIpcSchemaVector(b, x.newSchema);
            schema = SchemaDefinition.createSchemaDefinition(b, x.schemaId, ipc);
        }
        int shapeOffset = b.createString(shape);
        Value.startValue(b);
        Value.addKind(b, ValueKind.Arrow);
        Value.addArrow(b, descriptor);
        if (schema != 0) {
            Value.addSchema(b, schema);
        }
        Value.addArrowShape(b, shapeOffset);
        return Value.endValue(b);
    }

    static int encodeDescriptor(FlatBufferBuilder b, Exported x) {
        BatchDescriptor.startNodesVector(b, x.nodes.size());
        for (int i = x.nodes.size() - 1; i >= 0; i--) {
            ArrowFieldNode n = x.nodes.get(i);
            FieldNode.createFieldNode(b, n.getLength(), n.getNullCount());
        }
        int nodes = b.endVector();
        BatchDescriptor.startRegionsVector(b, 1);
        RegionRef.createRegionRef(b, x.region.handle(), x.region.segmentId(), 0, x.region.offset(),
                x.region.length());
        int regions = b.endVector();
        BatchDescriptor.startBuffersVector(b, x.buffers.length);
        for (int i = x.buffers.length - 1; i >= 0; i--) {
            BufferRef.createBufferRef(b, 0, 0, x.buffers[i][0], x.buffers[i][1]);
        }
        int buffers = b.endVector();
        long[] variadic = new long[x.variadic.size()];
        for (int i = 0; i < variadic.length; i++) {
            variadic[i] = x.variadic.get(i);
        }
        int vc = BatchDescriptor.createVariadicBufferCountsVector(b, variadic);
        return BatchDescriptor.createBatchDescriptor(b, x.schemaId, x.length, nodes, regions, buffers, vc);
    }
}
