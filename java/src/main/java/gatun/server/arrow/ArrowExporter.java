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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.BufferLedger;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.util.TransferPair;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.compression.NoCompressionCodec;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
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

    /** The result of exporting a batch: for tests and the encoder. */
    static final class Exported {
        /** The region buffers were copied into, or null. */
        JavaArena.Region region;
        /** Every region the descriptor names, in order (the copy region among them). */
        final List<JavaArena.Region> regions = new ArrayList<>();
        long[][] buffers; // {offset in its region, length}
        int[] bufferRegion; // index into regions, per buffer
        List<ArrowFieldNode> nodes;
        List<Long> variadic;
        long length;
        long schemaId;
        byte[] newSchema;
        /** Dictionary batches: their buffers are {@code buffers[from..to)}. */
        final List<ExportedDictionary> dictionaries = new ArrayList<>();
    }

    /** A dictionary's values among an export's buffers. */
    record ExportedDictionary(long id, long length, List<ArrowFieldNode> nodes, List<Long> variadic, int from,
                              int to) {
    }

    int encode(FlatBufferBuilder b, Object result) {
        VectorSchemaRoot root;
        String shape;
        DictionaryProvider dictionaries = null;
        if (result instanceof ArrowBridge.ReaderBatch) {
            root = ((ArrowBridge.ReaderBatch) result).root();
            dictionaries = ((ArrowBridge.ReaderBatch) result).dictionaries();
            shape = "root";
        } else if (result instanceof VectorSchemaRoot) {
            root = (VectorSchemaRoot) result;
            shape = "root";
        } else if (result instanceof FieldVector) {
            root = VectorSchemaRoot.of((FieldVector) result); // a view over the vector: never closed
            shape = "vector";
        } else {
            throw new IllegalArgumentException("not an Arrow value: " + result.getClass().getName());
        }
        Exported x = dictionaries != null && !Dictionaries.indexFields(root.getSchema()).isEmpty()
                ? copy(root, dictionaries) : export(root);
        boolean ok = false;
        try {
            int value = encodeValue(b, x, shape);
            ok = true;
            return value;
        } finally {
            if (!ok) {
                for (JavaArena.Region r : x.regions) {
                    arena.free(r); // a shared region's free drops the bridge's reference
                }
                forgetSchema(x);
            } else {
                gatun.server.ResponseJournal journal = gatun.server.ResponseJournal.current();
                for (JavaArena.Region r : x.regions) {
                    arena.addPeerHold(r);
                    journal.held(arena, r);
                }
            }
        }
    }

    /** Bytes copied into session regions on export (JVM-wide). */
    static final AtomicLong BYTES_COPIED = new AtomicLong();
    /** Bytes of the bridge allocator's arena handed to Python in place (JVM-wide). */
    static final AtomicLong BYTES_IN_PLACE = new AtomicLong();

    /** @return the arena block behind {@code buf}, or null if it is not in the bridge's arena */
    private static ArenaAllocationManager arenaManager(ArrowBuf buf) {
        if (buf.getReferenceManager() instanceof BufferLedger) {
            AllocationManager am = ((BufferLedger) buf.getReferenceManager()).getAllocationManager();
            if (am instanceof ArenaAllocationManager && ((ArenaAllocationManager) am).block() != null) {
                return (ArenaAllocationManager) am;
            }
        }
        return null;
    }

    /** Arrow Java 18's union TransferPairs lose the offsets: such roots are copied. */
    private static boolean hasUnion(Field f) {
        if (f.getType() instanceof org.apache.arrow.vector.types.pojo.ArrowType.Union) {
            return true;
        }
        for (Field c : f.getChildren()) {
            if (hasUnion(c)) {
                return true;
            }
        }
        return false;
    }

    private static boolean hasArenaBuffers(ValueVector v) {
        for (ArrowBuf buf : v.getBuffers(false)) {
            if (buf.capacity() > 0 && arenaManager(buf) != null) {
                return true;
            }
        }
        if (v instanceof FieldVector) {
            for (FieldVector c : ((FieldVector) v).getChildrenFromFields()) {
                if (hasArenaBuffers(c)) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Exports a batch: when some of its buffers lie in the bridge allocator's
     * arena, every vector is first <b>transferred</b> ({@code TransferPair}) out
     * of the user's root into one the bridge owns — the user's vectors are left
     * empty, so nothing Java does with them later can change what Python holds —
     * and each arena allocation becomes one region described in place. The
     * region takes its own reference to the arena block, and the bridge's root
     * is closed at once (so Arrow's accounting drops the memory immediately);
     * the block goes back to the arena when Python's {@code Release} frees the
     * region (and no Java buffer still uses it). Every other buffer is
     * copied once into one fresh session region. Without arena buffers this is
     * {@link #copy} and the user's root is left as it was.
     */
    Exported export(VectorSchemaRoot root) {
        List<Field> encoded = Dictionaries.indexFields(root.getSchema());
        if (!encoded.isEmpty()) {
            throw noDictionaries(encoded.get(0));
        }
        BufferAllocator bridge = ArrowBridge.allocator();
        boolean transfer = false;
        for (FieldVector v : root.getFieldVectors()) {
            if (v.getAllocator() == null) {
                continue; // a NullVector: no buffers
            }
            if (v.getAllocator().getRoot() != bridge.getRoot() || hasUnion(v.getField())) {
                transfer = false;
                break;
            }
            transfer |= hasArenaBuffers(v);
        }
        if (!transfer) {
            return copy(root); // cleans the view padding itself
        }
        ViewPadding.clean(root.getFieldVectors());
        List<FieldVector> moved = new ArrayList<>();
        VectorSchemaRoot own;
        try {
            for (FieldVector v : root.getFieldVectors()) {
                TransferPair tp = v.getTransferPair(bridge);
                tp.transfer();
                moved.add((FieldVector) tp.getTo());
            }
            own = new VectorSchemaRoot(root.getSchema(), moved, root.getRowCount());
        } catch (RuntimeException e) {
            for (FieldVector v : moved) {
                v.close();
            }
            throw e;
        }
        try (own) {
            return describeInPlace(own);
        }
    }

    private Exported describeInPlace(VectorSchemaRoot own) {
        Exported x = new Exported();
        boolean ok = false;
        try (ArrowRecordBatch batch = new VectorUnloader(own, true, NoCompressionCodec.INSTANCE, true)
                .getRecordBatch()) {
            List<ArrowBuf> bufs = batch.getBuffers();
            int n = bufs.size();
            // Pass 1: one region per arena allocation (session entries permitting).
            Map<ArenaAllocationManager, Integer> regionOf = new IdentityHashMap<>();
            int[] where = new int[n]; // region index, -1: copy, -2: empty
            for (int i = 0; i < n; i++) {
                ArrowBuf buf = bufs.get(i);
                if (buf.readableBytes() == 0) {
                    where[i] = -2;
                    continue;
                }
                ArenaAllocationManager am = arenaManager(buf);
                if (am == null) {
                    where[i] = -1;
                    continue;
                }
                Integer r = regionOf.get(am);
                if (r == null) {
                    SharedArena.Block block = am.block();
                    SharedArena shared = am.arena();
                    // The region's own reference: the block outlives the Arrow allocation
                    // (closed with the bridge's root below) until Python releases it.
                    shared.retain(block);
                    JavaArena.Region region;
                    try {
                        region = arena.holdShared(block, block.offset, block.length, () -> shared.free(block));
                    } catch (IOException | RuntimeException e) {
                        shared.free(block);
                        if (e instanceof RuntimeException) {
                            throw (RuntimeException) e;
                        }
                        region = null; // cannot publish: copy instead
                    }
                    if (region == null) {
                        shared.free(block);
                        r = -1;
                    } else {
                        r = x.regions.size();
                        x.regions.add(region);
                    }
                    regionOf.put(am, r);
                }
                where[i] = r;
            }
            // Pass 2: copy what is not in place into one session region.
            long total = 0;
            for (int i = 0; i < n; i++) {
                if (where[i] == -1) {
                    total += align(bufs.get(i).readableBytes());
                }
            }
            int copyIndex = -1;
            if (total > 0 || x.regions.isEmpty()) {
                try {
                    x.region = arena.allocate(total);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot allocate " + total + " bytes in the Java payload arena: "
                            + e.getMessage(), e);
                }
                copyIndex = x.regions.size();
                x.regions.add(x.region);
            }
            x.buffers = new long[n][];
            x.bufferRegion = new int[n];
            long at = 0;
            long inPlace = 0;
            for (int i = 0; i < n; i++) {
                ArrowBuf buf = bufs.get(i);
                long len = buf.readableBytes();
                long addr = buf.memoryAddress() + buf.readerIndex();
                if (where[i] == -1) {
                    x.region.mapping().copyIn(x.region.offset() + at, addr, len);
                    x.buffers[i] = new long[] {at, len};
                    x.bufferRegion[i] = copyIndex;
                    at += align(len);
                } else if (where[i] == -2) {
                    x.buffers[i] = new long[] {0, 0};
                    x.bufferRegion[i] = 0;
                } else {
                    JavaArena.Region r = x.regions.get(where[i]);
                    x.buffers[i] = new long[] {addr - r.address(), len};
                    x.bufferRegion[i] = where[i];
                    inPlace += len;
                }
            }
            BYTES_COPIED.addAndGet(at);
            BYTES_IN_PLACE.addAndGet(inPlace);
            x.nodes = batch.getNodes();
            x.variadic = batch.getVariadicBufferCounts();
            x.length = batch.getLength();
            assignSchema(x, own.getSchema());
            ok = true;
            return x;
        } finally {
            if (!ok) {
                for (JavaArena.Region r : x.regions) {
                    arena.free(r);
                }
            }
        }
    }

    private static IllegalArgumentException noDictionaries(Field encoded) {
        return new IllegalArgumentException("column " + encoded.getName() + " is dictionary-encoded, and a "
                + "VectorSchemaRoot does not carry its dictionary; return the ArrowReader (the DictionaryProvider) "
                + "instead, or decode the column");
    }

    /** Copies the batch into a fresh region (no hold counted yet). */
    Exported copy(VectorSchemaRoot root) {
        return copy(root, null);
    }

    /**
     * Copies the batch, and the dictionaries of its dictionary-encoded
     * columns from {@code provider}, into one fresh region (no hold counted
     * yet). The schema Python receives is in message format (value types).
     */
    Exported copy(VectorSchemaRoot root, DictionaryProvider provider) {
        Schema schema = root.getSchema();
        List<Field> encoded = Dictionaries.indexFields(schema);
        if (!encoded.isEmpty() && provider == null) {
            throw noDictionaries(encoded.get(0));
        }
        Exported x = new Exported();
        List<ArrowRecordBatch> parts = new ArrayList<>();
        ViewPadding.clean(root.getFieldVectors());
        try {
            parts.add(new VectorUnloader(root, true, NoCompressionCodec.INSTANCE, true).getRecordBatch());
            List<Long> ids = new ArrayList<>();
            for (Field f : encoded) {
                long id = f.getDictionary().getId();
                org.apache.arrow.vector.dictionary.Dictionary d = provider.lookup(id);
                if (d == null) {
                    throw new IllegalArgumentException("column " + f.getName() + " uses dictionary " + id
                            + ", which its provider does not have");
                }
                FieldVector values = d.getVector();
                ViewPadding.clean(List.of(values));
                VectorSchemaRoot view = new VectorSchemaRoot(List.of(values.getField()), List.of(values),
                        values.getValueCount());
                parts.add(new VectorUnloader(view, true, NoCompressionCodec.INSTANCE, true).getRecordBatch());
                ids.add(id);
            }
            List<ArrowBuf> bufs = new ArrayList<>();
            for (ArrowRecordBatch part : parts) {
                bufs.addAll(part.getBuffers());
            }
            ArrowRecordBatch batch = parts.get(0);
            int from = batch.getBuffers().size();
            for (int i = 1; i < parts.size(); i++) {
                ArrowRecordBatch d = parts.get(i);
                int to = from + d.getBuffers().size();
                x.dictionaries.add(new ExportedDictionary(ids.get(i - 1), d.getLength(), d.getNodes(),
                        d.getVariadicBufferCounts(), from, to));
                from = to;
            }
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
            x.regions.add(x.region);
            x.bufferRegion = new int[bufs.size()];
            BYTES_COPIED.addAndGet(at);
            x.nodes = batch.getNodes();
            x.variadic = batch.getVariadicBufferCounts();
            x.length = batch.getLength();
        } finally {
            for (ArrowRecordBatch part : parts) {
                part.close();
            }
        }
        assignSchema(x, encoded.isEmpty() ? schema : Dictionaries.messageFormat(schema, provider));
        return x;
    }

    private void assignSchema(Exported x, Schema schema) {
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
        BatchDescriptor.startRegionsVector(b, x.regions.size());
        for (int i = x.regions.size() - 1; i >= 0; i--) {
            JavaArena.Region r = x.regions.get(i);
            RegionRef.createRegionRef(b, r.handle(), r.segmentId(), 0, r.offset(), r.length());
        }
        int regions = b.endVector();
        // The batch's own buffers come first; the dictionaries' follow.
        int own = x.dictionaries.isEmpty() ? x.buffers.length : x.dictionaries.get(0).from();
        BatchDescriptor.startBuffersVector(b, own);
        for (int i = own - 1; i >= 0; i--) {
            BufferRef.createBufferRef(b, x.bufferRegion[i], 0, x.buffers[i][0], x.buffers[i][1]);
        }
        int buffers = b.endVector();
        long[] variadic = new long[x.variadic.size()];
        for (int i = 0; i < variadic.length; i++) {
            variadic[i] = x.variadic.get(i);
        }
        int vc = BatchDescriptor.createVariadicBufferCountsVector(b, variadic);
        int dictionaries = 0;
        if (!x.dictionaries.isEmpty()) {
            int[] ds = new int[x.dictionaries.size()];
            for (int i = 0; i < ds.length; i++) {
                ds[i] = encodeDictionary(b, x, x.dictionaries.get(i));
            }
            dictionaries = BatchDescriptor.createDictionariesVector(b, ds);
        }
        return BatchDescriptor.createBatchDescriptor(b, x.schemaId, x.length, nodes, regions, buffers, vc,
                dictionaries, SharedArena.get().aboveHighWater());
    }

    private static int encodeDictionary(FlatBufferBuilder b, Exported x, ExportedDictionary d) {
        gatun.protocol.DictionaryBatch.startNodesVector(b, d.nodes().size());
        for (int i = d.nodes().size() - 1; i >= 0; i--) {
            ArrowFieldNode n = d.nodes().get(i);
            FieldNode.createFieldNode(b, n.getLength(), n.getNullCount());
        }
        int nodes = b.endVector();
        gatun.protocol.DictionaryBatch.startBuffersVector(b, d.to() - d.from());
        for (int i = d.to() - 1; i >= d.from(); i--) {
            BufferRef.createBufferRef(b, x.bufferRegion[i], 0, x.buffers[i][0], x.buffers[i][1]);
        }
        int buffers = b.endVector();
        long[] variadic = new long[d.variadic().size()];
        for (int i = 0; i < variadic.length; i++) {
            variadic[i] = d.variadic().get(i);
        }
        int vc = gatun.protocol.DictionaryBatch.createVariadicBufferCountsVector(b, variadic);
        return gatun.protocol.DictionaryBatch.createDictionaryBatch(b, d.id(), false, d.length(), nodes, buffers, vc);
    }

    /**
     * Encodes an {@code ArrowReader} Python will read batch by batch: its
     * registry reference plus its schema (in message format), as
     * {@code Value{kind=Arrow, arrow_shape="reader", object_id, class_name,
     * arrow (schema id only), schema (first use)}}.
     */
    int encodeReader(FlatBufferBuilder b, org.apache.arrow.vector.ipc.ArrowReader reader, long objectId)
            throws IOException {
        VectorSchemaRoot root = reader.getVectorSchemaRoot();
        Schema schema = reader instanceof BridgeArrowReader
                ? ((BridgeArrowReader) reader).getSchema()
                : Dictionaries.messageFormat(root.getSchema(), reader);
        Exported x = new Exported();
        assignSchema(x, schema);
        BatchDescriptor.startBatchDescriptor(b);
        BatchDescriptor.addSchemaId(b, x.schemaId);
        int descriptor = BatchDescriptor.endBatchDescriptor(b);
        int def = 0;
        if (x.newSchema != null) {
            int ipc = SchemaDefinition.createIpcSchemaVector(b, x.newSchema);
            def = SchemaDefinition.createSchemaDefinition(b, x.schemaId, ipc);
        }
        int cn = b.createString(reader.getClass().getName());
        int shape = b.createString("reader");
        Value.startValue(b);
        Value.addKind(b, ValueKind.Arrow);
        Value.addObjectId(b, objectId);
        Value.addClassName(b, cn);
        Value.addArrow(b, descriptor);
        if (def != 0) {
            Value.addSchema(b, def);
        }
        Value.addArrowShape(b, shape);
        return Value.endValue(b);
    }
}
