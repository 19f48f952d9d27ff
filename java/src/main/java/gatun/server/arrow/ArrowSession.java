package gatun.server.arrow;

import gatun.protocol.BatchDescriptor;
import gatun.protocol.BufferRef;
import gatun.protocol.FieldNode;
import gatun.protocol.RegionRef;
import gatun.protocol.SchemaDefinition;
import gatun.server.ProtocolException;
import gatun.server.shm.ControlSegment;
import gatun.server.shm.SegmentDirectory;
import gatun.server.shm.ReleaseRing;
import gatun.server.shm.Segment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferLedger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.TypeLayout;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.compression.NoCompressionCodec;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * One session's Arrow data plane, JVM side.
 *
 * <p><b>Python -&gt; Java</b> ({@link #importBatch}): a {@link BatchDescriptor}
 * names regions of Python's payload segments; each region is validated, wrapped
 * once as a {@link RegionAllocation} and sliced into the batch's buffers, which a
 * {@link VectorLoader} loads into a fresh {@link VectorSchemaRoot}. The root's
 * vectors end up the only holders of the region: when they are closed the
 * allocation queues {@code Release(handle, 1)}, which {@link #flushReleases()}
 * moves onto the Java -&gt; Python ring before the lane publishes its next
 * response. Every region of every descriptor received gets exactly one Release,
 * whether the import succeeds or not.
 *
 * <p><b>Java -&gt; Python</b> ({@link #exportValue}): see {@link ArrowExporter}.
 */
public final class ArrowSession implements AutoCloseable {
    /** Most rows in one batch (Java vector lengths are {@code int}). */
    public static final long MAX_ROWS = Integer.MAX_VALUE;

    private final ControlSegment seg;
    private final BufferAllocator allocator;
    private final RegionReleases releases;
    private final Map<Long, Defined> schemas = new ConcurrentHashMap<>();
    /** Python segments mapped so far, by segment id; guarded by itself. */
    private final Map<Integer, PeerSegment> peerSegments = new HashMap<>();
    private final RegionLedger arena;
    private final ArrowExporter exporter;
    /** Imports in flight, so a concurrent close cannot be missed: guarded by this. */
    private volatile boolean closed;

    /**
     * A schema Python defined, with what every batch of it is checked
     * against: its buffer layout (dictionary columns as their indices), its
     * dictionary-encoded columns and the layout of each one's values.
     */
    private record Defined(Schema schema, List<Field> layout, List<Dictionaries.Entry> dictionaries,
                           List<List<Field>> valueLayouts) {
        Defined(Schema schema) {
            this(schema, Dictionaries.indexLayout(schema.getFields()), Dictionaries.entries(schema));
        }

        private Defined(Schema schema, List<Field> layout, List<Dictionaries.Entry> dictionaries) {
            this(schema, layout, dictionaries, dictionaries.stream()
                    .map(e -> Dictionaries.indexLayout(List.of(e.valueField()))).toList());
        }
    }

    /**
     * A region of Python's memory that one of this session's allocations
     * wraps: what Java needs to name it when it returns the data to Python
     * (forwarding it to its owner instead of copying it).
     *
     * @param handle Python's RegionHandle
     * @param segment Python's segment id
     * @param offset the region's offset in the segment
     * @param length the region's bytes
     * @param address the region's first byte in this process
     */
    record PythonRegion(long handle, int segment, long offset, long length, long address) {
    }

    /**
     * The Python regions this session's allocations wrap, by allocation
     * manager (weak keys, identity: Arrow's managers do not override equals):
     * an entry goes with its allocation.
     */
    private final Map<AllocationManager, PythonRegion> wrapped =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    /** A mapped Python segment and the directory fields it was mapped under. */
    private record PeerSegment(int memfd, String name, long size, int generation, Segment mapping) {
    }

    /**
     * @param seg the session's control segment (validated)
     * @param allocator the allocator receiving Python's buffers
     */
    public ArrowSession(ControlSegment seg, BufferAllocator allocator) {
        this.seg = seg;
        this.allocator = allocator;
        this.releases = new RegionReleases(seg);
        this.arena = new RegionLedger(seg);
        this.exporter = new ArrowExporter(arena, wrapped::get);
    }

    /** @return the allocator Python's buffers belong to */
    public BufferAllocator allocator() {
        return allocator;
    }

    /** @return the Java-owned arena (Java -&gt; Python) */
    public RegionLedger arena() {
        return arena;
    }

    // ------------------------------------------------------------- schemas

    /**
     * Registers a schema Python defined.
     *
     * @param def the definition (id and IPC Schema message bytes)
     * @return the schema
     */
    public Schema defineSchema(SchemaDefinition def) {
        if (def == null) {
            throw new ProtocolException("DefineSchema request has no schema");
        }
        long id = def.schemaId();
        ByteBuffer ipc = def.ipcSchemaAsByteBuffer();
        if (ipc == null || !ipc.hasRemaining()) {
            throw new ProtocolException("schema definition " + id + " has no IPC schema bytes");
        }
        byte[] bytes = new byte[ipc.remaining()];
        ipc.get(bytes);
        Schema schema = decodeSchema(bytes);
        Dictionaries.checkNotNested(schema);
        schemas.put(id, new Defined(schema));
        return schema;
    }

    /**
     * Decodes an Arrow IPC Schema message (a flatbuffer {@code Message} without
     * length prefix).
     *
     * @param bytes the message bytes
     * @return the schema
     */
    public static Schema decodeSchema(byte[] bytes) {
        try {
            Message m = Message.getRootAsMessage(ByteBuffer.wrap(bytes));
            if (m.headerType() != MessageHeader.Schema) {
                throw new IllegalArgumentException("IPC message header type " + m.headerType() + " is not a Schema");
            }
            return MessageSerializer.deserializeSchema(m);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException("malformed IPC schema: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new ProtocolException("malformed IPC schema: " + e, e);
        }
    }

    /** @return schemas Python has defined in this session */
    public int schemaCount() {
        return schemas.size();
    }

    // ------------------------------------------------------------- import

    /** One region of a descriptor, as read and (once validated) mapped. */
    private static final class Region {
        long handle;
        int segment;
        long offset;
        long length;
        Segment mapping;
        RegionAllocation allocation;
        ArrowBuf buf;
    }

    /**
     * The nodes, buffers and variadic counts of a record batch or a
     * dictionary batch (two generated tables with the same fields).
     */
    private record Parts(java.util.function.IntSupplier nodeCount,
                         java.util.function.ObjIntConsumer<FieldNode> readNode,
                         java.util.function.IntSupplier bufferCount,
                         java.util.function.ObjIntConsumer<BufferRef> readBuffer,
                         java.util.function.IntSupplier variadicCount,
                         java.util.function.IntToLongFunction readVariadic) {
        static Parts of(BatchDescriptor d) {
            return new Parts(d::nodesLength, d::nodes, d::buffersLength, d::buffers, d::variadicBufferCountsLength,
                    d::variadicBufferCounts);
        }

        static Parts of(gatun.protocol.DictionaryBatch d) {
            return new Parts(d::nodesLength, d::nodes, d::buffersLength, d::buffers, d::variadicBufferCountsLength,
                    d::variadicBufferCounts);
        }

        int nodesLength() {
            return nodeCount.getAsInt();
        }

        void node(FieldNode into, int i) {
            readNode.accept(into, i);
        }

        int buffersLength() {
            return bufferCount.getAsInt();
        }

        void buffer(BufferRef into, int i) {
            readBuffer.accept(into, i);
        }

        int variadicLength() {
            return variadicCount.getAsInt();
        }

        long variadic(int i) {
            return readVariadic.applyAsLong(i);
        }
    }

    /**
     * Loads a batch Python sent into a new {@link VectorSchemaRoot} over its
     * arena regions. The descriptor is validated completely before any shared
     * memory is touched. A batch with dictionary-encoded columns is refused
     * here: it crosses as a {@link BridgeArrowReader} ({@link #stage}).
     *
     * @param def a schema defined with the batch, or null
     * @param d the descriptor
     * @return the root; the caller registers it
     */
    public VectorSchemaRoot importBatch(SchemaDefinition def, BatchDescriptor d) {
        try (StagedBatch staged = stage(def, d)) {
            if (!staged.dictionaries().isEmpty()) {
                throw new IllegalArgumentException("a batch with dictionary-encoded columns crosses as an "
                        + "ArrowReader (ArrowStream), not as a VectorSchemaRoot");
            }
            VectorSchemaRoot root = TypedVectors.createRoot(staged.schema(), allocator);
            boolean ok = false;
            try {
                new VectorLoader(root).load(staged.batch());
                validate(root.getFieldVectors());
                ok = true;
            } finally {
                if (!ok) {
                    root.close();
                }
            }
            return root;
        }
    }

    /**
     * Reads a batch Python sent (and the dictionaries it carries) into Arrow
     * IPC message objects over its arena regions, without loading it: the
     * returned batch holds the only references to the regions. The descriptor
     * is validated completely before any shared memory is touched.
     *
     * @param def a schema defined with the batch, or null
     * @param d the descriptor
     * @return the staged batch; close it (or load it) to release the regions
     */
    public StagedBatch stage(SchemaDefinition def, BatchDescriptor d) {
        if (d == null) {
            throw new ProtocolException("the request has no arrow descriptor");
        }
        // Read the regions first: whatever happens next, each one gets its Release.
        Region[] regions = readRegions(d);
        List<AutoCloseable> made = new ArrayList<>();
        boolean handedOver = false;
        try {
            synchronized (this) {
                if (closed) {
                    throw new IllegalStateException("the session is closing");
                }
            }
            if (def != null) {
                defineSchema(def);
            }
            long schemaId = d.schemaId();
            Defined defined = schemas.get(schemaId);
            if (defined == null) {
                throw new IllegalArgumentException("unknown schema id " + schemaId + " (define it first)");
            }
            long length = d.length();
            if (length < 0 || length > MAX_ROWS) {
                throw new IllegalArgumentException("batch length " + length + " is outside 0.." + MAX_ROWS);
            }
            // Dictionary-encoded columns are laid out as their indices.
            Schema schema = defined.schema();
            List<Field> layout = defined.layout();
            Parts main = Parts.of(d);
            List<ArrowFieldNode> nodes = readNodes(main, layout);
            checkTopLevelLengths(layout, nodes, length);
            List<Long> variadic = readVariadic(main);
            long[][] buffers = readBuffers(main, regions, layout, variadic);
            checkBufferSizes(layout, nodes, buffers, variadic, new int[3]);
            List<Dictionaries.Entry> expected = defined.dictionaries();
            int n = count(d.dictionariesLength(), "dictionaries", 1 << 16);
            if (n != expected.size()) {
                throw new IllegalArgumentException("descriptor has " + n + " dictionaries, the schema has "
                        + expected.size() + " dictionary-encoded columns");
            }
            List<Object[]> dictionaryParts = new ArrayList<>(n);
            gatun.protocol.DictionaryBatch db = new gatun.protocol.DictionaryBatch();
            for (int i = 0; i < n; i++) {
                d.dictionaries(db, i);
                Dictionaries.Entry e = expected.get(i);
                if (db.id() != e.id()) {
                    throw new IllegalArgumentException("dictionary " + i + " has id " + db.id() + ", column "
                            + e.path() + " uses dictionary id " + e.id());
                }
                if (db.isDelta()) {
                    throw new IllegalArgumentException("dictionary " + e.id() + ": delta dictionaries are not "
                            + "supported; send the whole dictionary");
                }
                long dictLength = db.length();
                if (dictLength < 0 || dictLength > MAX_ROWS) {
                    throw new IllegalArgumentException("dictionary " + e.id() + " length " + dictLength
                            + " is outside 0.." + MAX_ROWS);
                }
                List<Field> valueLayout = defined.valueLayouts().get(i);
                Parts parts = Parts.of(db);
                List<ArrowFieldNode> dn = readNodes(parts, valueLayout);
                checkTopLevelLengths(valueLayout, dn, dictLength);
                List<Long> dv = readVariadic(parts);
                long[][] dbufs = readBuffers(parts, regions, valueLayout, dv);
                checkBufferSizes(valueLayout, dn, dbufs, dv, new int[3]);
                dictionaryParts.add(new Object[] {e, dictLength, dn, dv, dbufs});
            }
            mapRegions(regions);
            wrap(regions);
            ArrowRecordBatch batch = recordBatch((int) length, nodes, buffers, variadic, regions);
            made.add(batch);
            List<ArrowDictionaryBatch> dictionaries = new ArrayList<>(n);
            for (Object[] part : dictionaryParts) {
                @SuppressWarnings("unchecked")
                ArrowRecordBatch values = recordBatch((int) (long) (Long) part[1], (List<ArrowFieldNode>) part[2],
                        (long[][]) part[4], (List<Long>) part[3], regions);
                ArrowDictionaryBatch dictionary = new ArrowDictionaryBatch(((Dictionaries.Entry) part[0]).id(),
                        values, false);
                made.add(dictionary);
                dictionaries.add(dictionary);
            }
            if (d.copyOut()) {
                Reclaimer.nudge(); // Python's arena is filling: regions of unreachable roots may be waiting
                // Python's arena is above its high-water mark: keep private copies
                // and let the regions go now (released just below).
                made.add(batch = copyOut(batch)); // closes the original (closing twice is harmless)
                for (int i = 0; i < dictionaries.size(); i++) {
                    ArrowDictionaryBatch old = dictionaries.get(i);
                    ArrowDictionaryBatch copied = new ArrowDictionaryBatch(old.getDictionaryId(),
                            copyOut(old.getDictionary()), false);
                    made.add(copied);
                    dictionaries.set(i, copied);
                }
                COPIED_OUT.incrementAndGet();
            }
            // Our own references end here: the staged batches are now the only holders.
            for (Region r : regions) {
                if (r.buf != null) {
                    ArrowBuf b = r.buf;
                    r.buf = null;
                    r.allocation = null;
                    b.close();
                } else {
                    releases.add(r.handle, 1);
                }
            }
            handedOver = true;
            return new StagedBatch(schema, batch, List.copyOf(dictionaries));
        } finally {
            if (!handedOver) {
                for (AutoCloseable c : made) {
                    try {
                        c.close();
                    } catch (Exception e) {
                        // closing retained slices cannot fail
                    }
                }
                for (Region r : regions) {
                    if (r.buf != null) {
                        r.buf.close(); // the last reference: release0 queues the notice
                    } else if (r.allocation != null) {
                        r.allocation.releaseOnce();
                    } else {
                        releases.add(r.handle, 1);
                    }
                }
            }
        }
    }

    /**
     * Queues one Release for every region of a descriptor that will not be
     * imported (its request failed or was skipped before the import).
     *
     * @param d the descriptor, or null
     */
    public void releaseUnused(BatchDescriptor d) {
        if (d == null) {
            return;
        }
        Region[] regions;
        try {
            regions = readRegions(d);
        } catch (RuntimeException e) {
            return; // unreadable: nothing to release
        }
        for (Region r : regions) {
            releases.add(r.handle, 1);
        }
    }

    private static int count(int n, String what, int max) {
        if (n < 0 || n > max) {
            throw new ProtocolException("descriptor has " + Integer.toUnsignedString(n) + " " + what
                    + ", at most " + max + " allowed");
        }
        return n;
    }

    private static Region[] readRegions(BatchDescriptor d) {
        int n;
        Region[] out;
        try {
            n = count(d.regionsLength(), "regions", 1 << 16);
            out = new Region[n];
            RegionRef ref = new RegionRef();
            for (int i = 0; i < n; i++) {
                d.regions(ref, i);
                Region r = new Region();
                r.handle = ref.handle();
                r.segment = (int) ref.segment();
                r.offset = ref.offset();
                r.length = ref.length();
                out[i] = r;
            }
        } catch (ProtocolException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new ProtocolException("malformed descriptor regions: " + e, e);
        }
        return out;
    }

    private static int expectedNodes(List<Field> fields) {
        int n = 0;
        for (Field f : fields) {
            n += 1 + expectedNodes(f.getChildren());
        }
        return n;
    }

    private static int expectedBuffers(List<Field> fields, int[] viewColumns) {
        int n = 0;
        for (Field f : fields) {
            ArrowType t = f.getType();
            n += TypeLayout.getTypeBufferCount(t);
            if (t instanceof ArrowType.Utf8View || t instanceof ArrowType.BinaryView) {
                viewColumns[0]++;
            }
            n += expectedBuffers(f.getChildren(), viewColumns);
        }
        return n;
    }

    private static List<ArrowFieldNode> readNodes(Parts d, List<Field> fields) {
        int n = count(d.nodesLength(), "field nodes", 1 << 20);
        int expected = expectedNodes(fields);
        if (n != expected) {
            throw new IllegalArgumentException("descriptor has " + n + " field nodes, the schema needs " + expected);
        }
        List<ArrowFieldNode> out = new ArrayList<>(n);
        FieldNode node = new FieldNode();
        for (int i = 0; i < n; i++) {
            d.node(node, i);
            long len = node.length();
            long nulls = node.nullCount();
            if (len < 0 || len > MAX_ROWS || nulls < 0 || nulls > len) {
                throw new IllegalArgumentException("field node " + i + " (length " + len + ", null count " + nulls
                        + ") is out of range");
            }
            out.add(new ArrowFieldNode(len, nulls));
        }
        return out;
    }

    /** Every top-level column has exactly the batch's rows (as in IPC). */
    private static void checkTopLevelLengths(List<Field> fields, List<ArrowFieldNode> nodes, long length) {
        int at = 0;
        for (Field f : fields) {
            long n = nodes.get(at).getLength();
            if (n != length) {
                throw new IllegalArgumentException("column " + f.getName() + " has " + n + " rows, the batch "
                        + length);
            }
            at += expectedNodes(List.of(f));
        }
    }

    private static List<Long> readVariadic(Parts d) {
        int n = count(d.variadicLength(), "variadic buffer counts", 1 << 20);
        List<Long> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long c = d.variadic(i);
            if (c < 0 || c > (1 << 20)) {
                throw new IllegalArgumentException("variadic buffer count " + c + " is out of range");
            }
            out.add(c);
        }
        return out;
    }

    /** Returns {region index, offset, length} per buffer, every one inside its region. */
    private static long[][] readBuffers(Parts d, Region[] regions, List<Field> fields, List<Long> variadic) {
        int n = count(d.buffersLength(), "buffers", 1 << 22);
        int[] views = new int[1];
        long expected = expectedBuffers(fields, views);
        if (views[0] != variadic.size()) {
            throw new IllegalArgumentException("descriptor has " + variadic.size()
                    + " variadic buffer counts, the schema has " + views[0] + " view columns");
        }
        for (long c : variadic) {
            expected += c;
        }
        if (n != expected) {
            throw new IllegalArgumentException("descriptor has " + n + " buffers, the schema needs " + expected);
        }
        long[][] out = new long[n][];
        BufferRef ref = new BufferRef();
        for (int i = 0; i < n; i++) {
            d.buffer(ref, i);
            long region = ref.region();
            long off = ref.offset();
            long len = ref.length();
            if (len == 0) {
                out[i] = new long[] {-1, 0, 0}; // an absent buffer needs no region
                continue;
            }
            if (region >= regions.length) {
                throw new IllegalArgumentException("buffer " + i + " names region " + region + " of "
                        + regions.length);
            }
            long regionLen = regions[(int) region].length;
            if (off < 0 || len < 0 || regionLen < 0 || off > regionLen || len > regionLen - off) {
                throw new IllegalArgumentException("buffer " + i + " (" + Long.toUnsignedString(len) + " bytes at "
                        + Long.toUnsignedString(off) + ") exceeds its region of "
                        + Long.toUnsignedString(regionLen) + " bytes");
            }
            out[i] = new long[] {region, off, len};
        }
        return out;
    }

    /**
     * Checks each buffer is long enough for its node's rows (validity bitmaps
     * when there are nulls, fixed-width data, offsets, type ids, view structs),
     * so a vector never has to grow or read past what Python sent.
     *
     * @param at {node index, buffer index, variadic index}
     */
    private static void checkBufferSizes(List<Field> fields, List<ArrowFieldNode> nodes, long[][] buffers,
                                         List<Long> variadic, int[] at) {
        for (Field f : fields) {
            ArrowType t = f.getType();
            ArrowFieldNode node = nodes.get(at[0]++);
            long n = node.getLength();
            List<org.apache.arrow.vector.BufferLayout> layouts = TypeLayout.getTypeLayout(t).getBufferLayouts();
            boolean hasOffsets = false;
            for (org.apache.arrow.vector.BufferLayout l : layouts) {
                hasOffsets |= l.getType() == org.apache.arrow.vector.BufferLayout.BufferType.OFFSET;
            }
            boolean union = t instanceof ArrowType.Union;
            // List-views carry one offset (and one size) per row, not n + 1.
            boolean perRowOffsets = union || t instanceof ArrowType.ListView || t instanceof ArrowType.LargeListView;
            for (org.apache.arrow.vector.BufferLayout l : layouts) {
                int index = at[1]++;
                long len = buffers[index][2];
                long need;
                switch (l.getType()) {
                    case VALIDITY:
                        need = node.getNullCount() > 0 ? (n + 7) / 8 : 0;
                        break;
                    case OFFSET:
                        need = n == 0 ? 0 : (perRowOffsets ? n : n + 1) * (l.getTypeBitWidth() / 8);
                        break;
                    case DATA:
                        need = hasOffsets ? 0 : (n * l.getTypeBitWidth() + 7) / 8;
                        break;
                    case TYPE:
                        // The format's type ids are one byte each; TypeLayout
                        // reports a wider buffer than UnionVector uses.
                        need = union ? n : (n * l.getTypeBitWidth() + 7) / 8;
                        break;
                    default: // SIZE, VIEWS: fixed width per row
                        need = (n * l.getTypeBitWidth() + 7) / 8;
                        break;
                }
                if (len < need) {
                    throw new IllegalArgumentException("buffer " + index + " (" + l.getType() + " of column "
                            + f.getName() + ") holds " + len + " bytes, " + n + " rows need " + need);
                }
            }
            if (t instanceof ArrowType.Utf8View || t instanceof ArrowType.BinaryView) {
                at[1] += (int) (long) variadic.get(at[2]++);
            }
            checkBufferSizes(f.getChildren(), nodes, buffers, variadic, at);
        }
    }

    /** Validates every region against its segment and maps the segments it needs. */
    private void mapRegions(Region[] regions) {
        for (int i = 0; i < regions.length; i++) {
            Region r = regions[i];
            if (r.segment < 1 || r.segment >= 0x8000) {
                throw new IllegalArgumentException("region " + i + " lies in segment " + r.segment
                        + ", which is not one of Python's");
            }
            Segment m = peerSegment(r.segment);
            if (r.offset < 0 || r.length < 0 || r.offset > m.size() || r.length > m.size() - r.offset) {
                throw new IllegalArgumentException("region " + i + " (" + Long.toUnsignedString(r.length)
                        + " bytes at " + Long.toUnsignedString(r.offset) + ") exceeds segment " + r.segment + " of "
                        + m.size() + " bytes");
            }
            r.mapping = m;
        }
    }

    /** Finds Python's segment {@code id} in the directory and maps it (once). */
    Segment peerSegment(int id) {
        for (int entry = 0; entry < SegmentDirectory.PYTHON_ENTRIES; entry++) {
            if (seg.directory().published(entry) != 1 || seg.directory().segmentId(entry) != id) {
                continue;
            }
            int memfd = seg.directory().memfd(entry);
            String name = memfd >= 0 ? "" : seg.directory().name(entry);
            long size = seg.directory().size(entry);
            int generation = seg.directory().generation(entry);
            synchronized (peerSegments) {
                PeerSegment p = peerSegments.get(id);
                if (p != null && p.memfd == memfd && p.name.equals(name) && p.size == size
                        && p.generation == generation) {
                    return p.mapping;
                }
                if (size <= 0 || size > ControlSegment.MAX_SEGMENT_SIZE) {
                    throw new IllegalArgumentException("segment " + id + " has size " + size);
                }
                Path path;
                if (memfd >= 0) {
                    path = Path.of("/proc", Integer.toUnsignedString(seg.pythonPid()), "fd", Integer.toString(memfd));
                } else {
                    if (name.isEmpty() || !name.startsWith("/")) {
                        throw new IllegalArgumentException("segment " + id + " has neither a memfd nor a path");
                    }
                    path = Path.of(name);
                }
                Segment m;
                try {
                    m = Segment.mapPeer(path, size);
                } catch (IOException e) {
                    throw new IllegalStateException("cannot map Python's segment " + id + ": " + e.getMessage(), e);
                }
                // The replaced mapping (if any) stays alive through the allocations over it.
                peerSegments.put(id, new PeerSegment(memfd, name, size, generation, m));
                return m;
            }
        }
        throw new IllegalArgumentException("segment " + id + " is not published in the segment directory");
    }

    /** Batches copied out of Python's arena above its high-water mark (JVM-wide). */
    static final java.util.concurrent.atomic.AtomicLong COPIED_OUT = new java.util.concurrent.atomic.AtomicLong();

    /** A copy of {@code batch} in {@link #allocator}'s own memory; closes {@code batch}. */
    private ArrowRecordBatch copyOut(ArrowRecordBatch batch) {
        List<ArrowBuf> copies = new ArrayList<>(batch.getBuffers().size());
        try (batch) {
            for (ArrowBuf src : batch.getBuffers()) {
                long n = src.readableBytes();
                if (n == 0) {
                    copies.add(allocator.getEmpty());
                    continue;
                }
                ArrowBuf copy = allocator.buffer(n);
                copy.setBytes(0, src, src.readerIndex(), n);
                copy.writerIndex(n);
                copies.add(copy);
            }
            // The new batch takes the copies' references (no retain).
            return new ArrowRecordBatch(batch.getLength(), batch.getNodes(), copies,
                    NoCompressionCodec.DEFAULT_BODY_COMPRESSION, batch.getVariadicBufferCounts(), false, false);
        } catch (RuntimeException | Error e) {
            for (ArrowBuf c : copies) {
                c.close();
            }
            throw e;
        }
    }

    /** Wraps each region once as a foreign allocation of {@link #allocator}. */
    private void wrap(Region[] regions) {
        for (Region r : regions) {
            if (r.length == 0) {
                continue; // nothing to wrap; its Release is queued with the others
            }
            r.allocation = new RegionAllocation(r.mapping, r.offset, r.length, r.handle, releases);
            r.buf = allocator.wrapForeignAllocation(r.allocation);
            if (r.buf.getReferenceManager() instanceof BufferLedger) {
                wrapped.put(((BufferLedger) r.buf.getReferenceManager()).getAllocationManager(),
                        new PythonRegion(r.handle, r.segment, r.offset, r.length, r.mapping.address() + r.offset));
            }
        }
    }

    /** An IPC record batch over slices of the wrapped regions (it retains each slice). */
    private ArrowRecordBatch recordBatch(int length, List<ArrowFieldNode> nodes, long[][] buffers,
                                         List<Long> variadic, Region[] regions) {
        List<ArrowBuf> slices = new ArrayList<>(buffers.length);
        for (long[] b : buffers) {
            Region r = b[0] < 0 ? null : regions[(int) b[0]];
            slices.add(r == null || r.buf == null ? allocator.getEmpty() : r.buf.slice(b[1], b[2]));
        }
        return new ArrowRecordBatch(length, nodes, slices, NoCompressionCodec.DEFAULT_BODY_COMPRESSION, variadic,
                false, true);
    }

    /**
     * Checks loaded vectors' buffers: {@code validate()} minus its type
     * visitor, which rejects every MapVector (it checks a MapVector as if it
     * were a List) in Arrow Java 18, plus the view types (see
     * {@link BufferCheck}).
     *
     * @param vectors the vectors just loaded
     */
    static void validate(List<FieldVector> vectors) {
        BufferCheck bufferCheck = new BufferCheck();
        for (FieldVector v : vectors) {
            try {
                v.accept(bufferCheck, null);
            } catch (UnsupportedOperationException noVisitor) {
                v.validate(); // list-views: the buffer visitor has no case for them
            }
        }
    }

    // ------------------------------------------------------------- export

    /**
     * Encodes a {@code VectorSchemaRoot} or {@code FieldVector} result as an
     * Arrow value (data copied into the Java-owned arena).
     *
     * @param b the response builder
     * @param result the value
     * @return the Value offset
     */
    public int exportValue(com.google.flatbuffers.FlatBufferBuilder b, Object result) {
        return exporter.encode(b, result);
    }

    /**
     * Encodes an {@code ArrowReader} result: Python gets its reference and
     * schema and reads it batch by batch through {@link ArrowBridge#nextBatch}.
     *
     * @param b the response builder
     * @param reader the reader
     * @param objectId its registry id
     * @return the Value offset
     * @throws IOException if the reader cannot read its schema
     */
    public int exportReader(com.google.flatbuffers.FlatBufferBuilder b, org.apache.arrow.vector.ipc.ArrowReader reader,
                            long objectId) throws IOException {
        return exporter.encodeReader(b, reader, objectId);
    }

    /**
     * @param v a method's result
     * @return whether it crosses to Python as Arrow data by value
     */
    public static boolean isArrowValue(Object v) {
        return v instanceof VectorSchemaRoot || v instanceof FieldVector || v instanceof ArrowBridge.ReaderBatch
                || v instanceof ArrowBridge.HandedOff;
    }

    // ------------------------------------------------------------- rings

    /**
     * Moves queued Release notices onto the Java -&gt; Python ring; the lane
     * worker calls it before it publishes each response.
     *
     * @return notices moved
     */
    public int flushReleases() {
        return releases.flush();
    }

    /** @return the queue of Release notices for Python's regions */
    RegionReleases releaseQueue() {
        return releases;
    }

    /** @return notices still waiting for ring space */
    public int pendingReleases() {
        return releases.pending();
    }

    /**
     * Applies Python's Release notices for Java's regions (Python -&gt; Java ring);
     * the lane worker calls it at the start of every request.
     *
     * @return notices read
     */
    public int drainPeerReleases() {
        return arena.drainRing(this::acknowledged);
    }

    /** Actions waiting for Python to read an answer, by acknowledgement notice; guarded by itself. */
    private final Map<Long, List<Runnable>> awaitingAck = new HashMap<>();

    /**
     * Keeps {@code actions} until Python acknowledges the answer {@code seq}
     * of lane {@code lane} (see {@link ControlSegment#RESP_FLAG_NEEDS_ACK}).
     *
     * @param lane the lane index
     * @param seq the answer's sequence number
     * @param actions what to run then
     */
    public void awaitAck(int lane, long seq, List<Runnable> actions) {
        boolean runNow;
        synchronized (awaitingAck) {
            runNow = closed;
            if (!runNow) {
                awaitingAck.computeIfAbsent(ReleaseRing.ackNotice(lane, seq), k -> new ArrayList<>())
                        .addAll(actions);
            }
        }
        if (runNow) {
            runAll(actions);
        }
    }

    private void acknowledged(long notice) {
        List<Runnable> due;
        synchronized (awaitingAck) {
            due = awaitingAck.remove(notice);
        }
        if (due != null) {
            runAll(due);
        }
    }

    private static void runAll(List<Runnable> actions) {
        for (Runnable r : actions) {
            try {
                r.run();
            } catch (RuntimeException e) {
                System.err.println("gatun: an acknowledgement action failed: " + e);
            }
        }
    }

    /**
     * Ends the plane: Java's segment files are deleted and their directory
     * entries retired. Regions Java code still holds stay mapped until released.
     */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        List<Runnable> left = new ArrayList<>();
        synchronized (awaitingAck) {
            for (List<Runnable> l : awaitingAck.values()) {
                left.addAll(l);
            }
            awaitingAck.clear();
        }
        runAll(left); // Python reads nothing more: the holds go back
        flushReleases();
        arena.close();
    }
}
