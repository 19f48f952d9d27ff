package gatun.server.arrow;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.BatchDescriptor;
import gatun.protocol.BufferRef;
import gatun.protocol.FieldNode;
import gatun.protocol.RegionRef;
import gatun.protocol.SchemaDefinition;
import gatun.protocol.Value;
import gatun.protocol.ValueKind;
import gatun.server.dispatch.ResponseJournal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferLedger;
import org.apache.arrow.memory.ReferenceManager;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.compression.NoCompressionCodec;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
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
    private final RegionLedger ledger;
    private final SchemaRegistry schemas;

    /** Finds the region of Python's memory an allocation wraps (this session's only), or null. */
    private final java.util.function.Function<AllocationManager, ArrowSession.PythonRegion> pythonRegions;

    /** Server counters of Arrow data sent to Python, or null. */
    volatile gatun.server.Metrics metrics;

    /** Counts an export's buffers, batch and rows as sent to Python. */
    private static void count(Exported x, gatun.server.Metrics m) {
        long bytes = 0;
        for (long[] buf : x.buffers) {
            bytes += buf[1];
        }
        m.arrowBytesOut.add(bytes);
        m.arrowBatchesOut.increment();
        m.arrowRowsOut.add(x.length);
    }

    ArrowExporter(RegionLedger ledger, SchemaRegistry schemas, java.util.function.Function<AllocationManager, ArrowSession.PythonRegion> pythonRegions) {
        this.ledger = ledger;
        this.schemas = schemas;
        this.pythonRegions = pythonRegions;
    }

    /** The result of exporting a batch: for tests and the encoder. */
    static final class Exported {
        /** The region buffers were copied into, or null. */
        RegionLedger.Region region;
        /**
         * Every region the descriptor names, in order (the copy region among
         * them); null where the region is one of Python's ({@link #python}).
         */
        final List<RegionLedger.Region> regions = new ArrayList<>();
        /** Beside {@link #regions}: Python's region forwarded back to it, or null. */
        final List<ArrowSession.PythonRegion> python = new ArrayList<>();
        /** Beside {@link #regions}: the address of the region's first byte. */
        final List<Long> base = new ArrayList<>();
        /** Java's holds on Python's forwarded regions, given back once Python has read the reply. */
        final List<ReferenceManager> forwarded = new ArrayList<>();
        long[][] buffers; // {offset in its region, length}
        int[] bufferRegion; // index into regions, per buffer
        List<ArrowFieldNode> nodes;
        List<Long> variadic;
        long length;
        long schemaId;
        byte[] newSchema;
        /** Dictionary batches: their buffers are {@code buffers[from..to)}. */
        final List<ExportedDictionary> dictionaries = new ArrayList<>();

        /** Appends a Java-owned region; returns its index. */
        int add(RegionLedger.Region r) {
            regions.add(r);
            python.add(null);
            base.add(r.address());
            return regions.size() - 1;
        }

        /** Appends a region of Python's own memory; returns its index. */
        int add(ArrowSession.PythonRegion r) {
            regions.add(null);
            python.add(r);
            base.add(r.address());
            return regions.size() - 1;
        }

        /** Gives back Java's holds on forwarded regions (once). */
        void releaseForwarded() {
            for (ReferenceManager m : forwarded) {
                m.release();
            }
            forwarded.clear();
        }
    }

    /** A dictionary's values among an export's buffers. */
    record ExportedDictionary(long id, long length, List<ArrowFieldNode> nodes, List<Long> variadic, int from,
                              int to) {
    }

    int encode(FlatBufferBuilder b, Object result) {
        VectorSchemaRoot root;
        String shape;
        DictionaryProvider dictionaries = null;
        VectorSchemaRoot handedOff = null;
        if (result instanceof ArrowBridge.HandedOff) {
            handedOff = ((ArrowBridge.HandedOff) result).root();
            root = handedOff;
            shape = ((ArrowBridge.HandedOff) result).shape();
        } else if (result instanceof ArrowBridge.ReaderBatch) {
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
        try {
            checkRowCounts(root);
            Exported x = dictionaries != null && !Dictionaries.indexFields(root.getSchema()).isEmpty()
                    ? copy(root, dictionaries) : export(root);
            boolean ok = false;
            try {
                int value = encodeValue(b, x, shape);
                ok = true;
                if (metrics != null) {
                    count(x, metrics);
                }
                return value;
            } finally {
                gatun.server.dispatch.ResponseJournal journal = gatun.server.dispatch.ResponseJournal.current();
                if (!ok) {
                    for (RegionLedger.Region r : x.regions) {
                        if (r != null) {
                            ledger.free(r); // a shared region's free drops the bridge's reference
                        }
                    }
                    x.releaseForwarded();
                } else {
                    for (RegionLedger.Region r : x.regions) {
                        if (r != null) {
                            ledger.addPeerHold(r);
                            journal.held(ledger, r);
                        }
                    }
                    if (!x.forwarded.isEmpty()) {
                        // Python takes its own reference to its regions as it reads the reply.
                        journal.onAcknowledged(x::releaseForwarded, true);
                    }
                    if (x.newSchema != null) {
                        long id = x.schemaId;
                        journal.onAcknowledged(() -> schemas.confirm(id), false);
                    }
                }
            }
        } finally {
            if (handedOff != null) {
                handedOff.close(); // the regions hold the memory Python references
            }
        }
    }

    /**
     * Every column of a root holds its row count of values, as Arrow's IPC
     * format requires; a closed root (its vectors emptied) or one whose
     * {@code setRowCount} was forgotten does not.
     */
    private static void checkRowCounts(VectorSchemaRoot root) {
        int rows = root.getRowCount();
        for (FieldVector v : root.getFieldVectors()) {
            if (v.getValueCount() != rows) {
                throw new IllegalArgumentException("the VectorSchemaRoot has " + rows + " rows but its column "
                        + v.getName() + " holds " + v.getValueCount() + " values: "
                        + (v.getValueCount() == 0 ? "was the root closed? " : "")
                        + "call setRowCount after filling the vectors");
            }
        }
    }

    /** Bytes copied into session regions on export (JVM-wide). */
    static final AtomicLong BYTES_COPIED = new AtomicLong();
    /** Bytes of the bridge allocator's arena, or of Python's own regions, handed to Python in place (JVM-wide). */
    static final AtomicLong BYTES_IN_PLACE = new AtomicLong();

    /** @return the allocation manager behind {@code buf}, or null for an empty or foreign-ledger buffer */
    private static AllocationManager manager(ArrowBuf buf) {
        if (buf.getReferenceManager() instanceof BufferLedger) {
            return ((BufferLedger) buf.getReferenceManager()).getAllocationManager();
        }
        return null;
    }

    /**
     * Exports a batch without changing it: buffers that lie in shared memory
     * are <b>shared</b> by reference count and described in place — a block of
     * the bridge allocator's arena becomes a region of this session that holds
     * the block until Python releases it, and a region of Python's own memory
     * (a batch Python sent) is named by its handle, held by Java until Python
     * has taken its own reference. Every other buffer is copied once into one
     * fresh session region. The root stays the caller's, as it was; returning
     * it twice gives equal data.
     */
    Exported export(VectorSchemaRoot root) {
        List<Field> encoded = Dictionaries.indexFields(root.getSchema());
        if (!encoded.isEmpty()) {
            throw noDictionaries(encoded.get(0));
        }
        ViewPadding.clean(root.getFieldVectors());
        Exported x = new Exported();
        boolean ok = false;
        try (ArrowRecordBatch batch = new VectorUnloader(root, true, NoCompressionCodec.INSTANCE, true)
                .getRecordBatch()) {
            List<ArrowBuf> bufs = batch.getBuffers();
            int n = bufs.size();
            // Pass 1: one region per shared allocation.
            Map<AllocationManager, Integer> regionOf = new IdentityHashMap<>();
            int[] where = new int[n]; // region index, -1: copy, -2: empty
            for (int i = 0; i < n; i++) {
                ArrowBuf buf = bufs.get(i);
                if (buf.readableBytes() == 0) {
                    where[i] = -2;
                    continue;
                }
                AllocationManager am = manager(buf);
                Integer r = am == null ? Integer.valueOf(-1) : regionOf.get(am);
                if (r == null) {
                    r = shareRegion(x, am, buf);
                    regionOf.put(am, r);
                }
                where[i] = r;
            }
            // Pass 2: copy what is not shared into one session region.
            long total = 0;
            for (int i = 0; i < n; i++) {
                if (where[i] == -1) {
                    total += align(bufs.get(i).readableBytes());
                }
            }
            int copyIndex = -1;
            if (total > 0 || x.regions.isEmpty()) {
                try {
                    x.region = ledger.allocate(total);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot allocate " + total + " bytes in the Java payload arena: "
                            + e.getMessage(), e);
                }
                copyIndex = x.add(x.region);
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
                    x.buffers[i] = new long[] {addr - x.base.get(where[i]), len};
                    x.bufferRegion[i] = where[i];
                    inPlace += len;
                }
            }
            BYTES_COPIED.addAndGet(at);
            BYTES_IN_PLACE.addAndGet(inPlace);
            x.nodes = batch.getNodes();
            x.variadic = batch.getVariadicBufferCounts();
            x.length = batch.getLength();
            assignSchema(x, root.getSchema());
            ok = true;
            return x;
        } finally {
            if (!ok) {
                for (RegionLedger.Region r : x.regions) {
                    if (r != null) {
                        ledger.free(r);
                    }
                }
                x.releaseForwarded();
            }
        }
    }

    /**
     * Describes the allocation behind {@code buf} in place if it lies in
     * shared memory Python can map.
     *
     * @return the index of its region in {@code x}, or -1 to copy it
     */
    private int shareRegion(Exported x, AllocationManager am, ArrowBuf buf) {
        if (am instanceof ArenaAllocationManager && ((ArenaAllocationManager) am).block() != null) {
            ArenaAllocationManager arenaAm = (ArenaAllocationManager) am;
            Arena.Block block = arenaAm.block();
            Arena shared = arenaAm.arena();
            // The region's own reference: the block outlives the Arrow allocation
            // (whoever closes it) until Python releases the region.
            shared.retain(block);
            RegionLedger.Region region;
            try {
                region = ledger.holdShared(block, block.offset, block.length, () -> shared.free(block));
            } catch (IOException e) {
                region = null; // cannot publish: copy instead
            } catch (RuntimeException e) {
                shared.free(block);
                throw e;
            }
            if (region == null) {
                shared.free(block);
                return -1;
            }
            return x.add(region);
        }
        ArrowSession.PythonRegion python = pythonRegions.apply(am);
        if (python == null) {
            return -1;
        }
        // Java keeps the memory until Python has its own reference (acknowledgement).
        buf.getReferenceManager().retain();
        x.forwarded.add(buf.getReferenceManager());
        return x.add(python);
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
                x.region = ledger.allocate(total);
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
            x.add(x.region);
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

    /**
     * Gives the batch its schema's id, and the definition while Python may not
     * have read it yet ({@link SchemaRegistry#assign}).
     */
    private void assignSchema(Exported x, Schema schema) {
        SchemaRegistry.Assigned a = schemas.assign(schema);
        x.schemaId = a.id();
        x.newSchema = a.definition();
    }

    private static long align(long n) {
        return (n + RegionLedger.GRANULE - 1) / RegionLedger.GRANULE * RegionLedger.GRANULE;
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
            RegionLedger.Region r = x.regions.get(i);
            if (r != null) {
                RegionRef.createRegionRef(b, r.handle(), r.segmentId(), 0, r.offset(), r.length());
            } else {
                ArrowSession.PythonRegion p = x.python.get(i);
                RegionRef.createRegionRef(b, p.handle(), p.segment(), 0, p.offset(), p.length());
            }
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
                dictionaries, Arena.get().aboveHighWater());
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
        if (x.newSchema != null) {
            long id = x.schemaId;
            gatun.server.dispatch.ResponseJournal.current().onAcknowledged(() -> schemas.confirm(id), false);
        }
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
