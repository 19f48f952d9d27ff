package gatun.server.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.BatchDescriptor;
import gatun.protocol.BufferRef;
import gatun.protocol.FieldNode;
import gatun.protocol.RegionRef;
import gatun.protocol.Request;
import gatun.protocol.SchemaDefinition;
import gatun.protocol.Value;
import gatun.protocol.ValueKind;
import gatun.server.shm.ControlSegment;
import gatun.server.shm.RegionHandle;
import gatun.server.shm.ReleaseRing;
import gatun.server.shm.SegmentDirectory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.complex.impl.UnionListWriter;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Arrow data plane without a Python process: a "Python" segment is a file
 * published in directory entry 0, filled by copying a Java-built batch into it.
 */
class ArrowSessionTest {
    private static final int PY_SEGMENT = 1;
    private BufferAllocator source;
    private BufferAllocator target;
    private ControlSegment seg;
    private RegionLedger pyArena; // stands in for Python's arena: its segment is published as Python's id 1
    private ArrowSession session;

    @BeforeEach
    void setUp() throws Exception {
        source = new RootAllocator(Long.MAX_VALUE);
        target = new RootAllocator(Long.MAX_VALUE);
        seg = new ControlSegment(ByteBuffer.allocateDirect((int) ControlSegment.requiredSize(1, 4096)));
        seg.writeHeader(1, 4096, (int) ProcessHandle.current().pid(), 0);
        pyArena = new RegionLedger(null, 1 << 20);
        pyArena.allocate(64); // create the segment
        RegionLedger.OwnedSegment s = segmentOf(pyArena);
        seg.directory().publish(0, PY_SEGMENT, 0, 1, 1, s.mapping.size(), -1, s.mapping.path().toString());
        session = new ArrowSession(seg, target);
    }

    /** Set by a test that leaves an allocation to the collector: its allocator keeps counting it. */
    private boolean accountingLeakExpected;

    @AfterEach
    void tearDown() {
        session.close();
        pyArena.close();
        if (!accountingLeakExpected) {
            assertEquals(0, target.getAllocatedMemory(), "every imported buffer was released");
            target.close();
        }
        source.close();
    }

    @SuppressWarnings("unchecked")
    private static RegionLedger.OwnedSegment segmentOf(RegionLedger a) throws Exception {
        java.lang.reflect.Field f = RegionLedger.class.getDeclaredField("segments");
        f.setAccessible(true);
        return ((List<RegionLedger.OwnedSegment>) f.get(a)).get(0);
    }

    // ------------------------------------------------------------ fixtures

    private VectorSchemaRoot sample() {
        Field item = new Field("item", FieldType.nullable(new ArrowType.Int(32, true)), null);
        Field list = new Field("l", FieldType.nullable(new ArrowType.List()), List.of(item));
        Field sa = new Field("a", FieldType.nullable(new ArrowType.Int(64, true)), null);
        Field sb = new Field("b", FieldType.nullable(new ArrowType.Utf8()), null);
        Field struct = new Field("st", FieldType.nullable(new ArrowType.Struct()), List.of(sa, sb));
        Schema schema = new Schema(List.of(
                Field.nullable("x", new ArrowType.Int(64, true)),
                Field.nullable("f", new ArrowType.FloatingPoint(org.apache.arrow.vector.types.FloatingPointPrecision.DOUBLE)),
                Field.nullable("s", new ArrowType.Utf8()),
                Field.nullable("b", new ArrowType.Bool()),
                list, struct));
        VectorSchemaRoot root = VectorSchemaRoot.create(schema, source);
        int n = 10;
        BigIntVector x = (BigIntVector) root.getVector("x");
        Float8Vector f = (Float8Vector) root.getVector("f");
        VarCharVector s = (VarCharVector) root.getVector("s");
        BitVector b = (BitVector) root.getVector("b");
        ListVector l = (ListVector) root.getVector("l");
        StructVector st = (StructVector) root.getVector("st");
        UnionListWriter w = l.getWriter();
        for (int i = 0; i < n; i++) {
            if (i % 3 == 0) {
                x.setNull(i);
                s.setNull(i);
            } else {
                x.setSafe(i, i * 10L);
                s.setSafe(i, ("v" + i).getBytes(StandardCharsets.UTF_8));
            }
            f.setSafe(i, i / 2.0);
            b.setSafe(i, i % 2);
            w.setPosition(i);
            w.startList();
            for (int k = 0; k < i % 4; k++) {
                w.integer().writeInt(i + k);
            }
            w.endList();
            st.setIndexDefined(i);
            ((BigIntVector) st.getChild("a")).setSafe(i, -i);
            ((VarCharVector) st.getChild("b")).setSafe(i, ("s" + i).getBytes(StandardCharsets.UTF_8));
        }
        ((BigIntVector) st.getChild("a")).setValueCount(n);
        ((VarCharVector) st.getChild("b")).setValueCount(n);
        root.setRowCount(n);
        return root;
    }

    /** A descriptor under construction: starts as the faithful copy of a batch. */
    private static final class Desc {
        long schemaId = 7;
        byte[] ipcSchema;
        long length;
        List<long[]> nodes = new ArrayList<>();
        List<long[]> regions = new ArrayList<>(); // handle, segment, offset, length
        List<long[]> buffers = new ArrayList<>(); // region, offset, length
        List<Long> variadic = new ArrayList<>();
        /** Per dictionary: {id, length, delta (0/1)}, its nodes, and its buffers. */
        List<long[]> dictionaries = new ArrayList<>();
        List<List<long[]>> dictionaryNodes = new ArrayList<>();
        List<List<long[]>> dictionaryBuffers = new ArrayList<>();

        byte[] request(int action) {
            FlatBufferBuilder b = new FlatBufferBuilder(1024);
            int schema = 0;
            if (ipcSchema != null) {
                int ipc = SchemaDefinition.createIpcSchemaVector(b, ipcSchema);
                schema = SchemaDefinition.createSchemaDefinition(b, schemaId, ipc);
            }
            BatchDescriptor.startNodesVector(b, nodes.size());
            for (int i = nodes.size() - 1; i >= 0; i--) {
                FieldNode.createFieldNode(b, nodes.get(i)[0], nodes.get(i)[1]);
            }
            int nv = b.endVector();
            BatchDescriptor.startRegionsVector(b, regions.size());
            for (int i = regions.size() - 1; i >= 0; i--) {
                long[] r = regions.get(i);
                RegionRef.createRegionRef(b, r[0], r[1], 0, r[2], r[3]);
            }
            int rv = b.endVector();
            BatchDescriptor.startBuffersVector(b, buffers.size());
            for (int i = buffers.size() - 1; i >= 0; i--) {
                long[] r = buffers.get(i);
                BufferRef.createBufferRef(b, r[0], 0, r[1], r[2]);
            }
            int bv = b.endVector();
            int vv = BatchDescriptor.createVariadicBufferCountsVector(b,
                    variadic.stream().mapToLong(Long::longValue).toArray());
            int dv = 0;
            if (!dictionaries.isEmpty()) {
                int[] ds = new int[dictionaries.size()];
                for (int k = 0; k < ds.length; k++) {
                    List<long[]> dn = dictionaryNodes.get(k);
                    gatun.protocol.DictionaryBatch.startNodesVector(b, dn.size());
                    for (int i = dn.size() - 1; i >= 0; i--) {
                        FieldNode.createFieldNode(b, dn.get(i)[0], dn.get(i)[1]);
                    }
                    int dnv = b.endVector();
                    List<long[]> db = dictionaryBuffers.get(k);
                    gatun.protocol.DictionaryBatch.startBuffersVector(b, db.size());
                    for (int i = db.size() - 1; i >= 0; i--) {
                        BufferRef.createBufferRef(b, db.get(i)[0], 0, db.get(i)[1], db.get(i)[2]);
                    }
                    int dbv = b.endVector();
                    int dvv = gatun.protocol.DictionaryBatch.createVariadicBufferCountsVector(b, new long[0]);
                    long[] meta = dictionaries.get(k);
                    ds[k] = gatun.protocol.DictionaryBatch.createDictionaryBatch(b, meta[0], meta[2] != 0, meta[1],
                            dnv, dbv, dvv);
                }
                dv = BatchDescriptor.createDictionariesVector(b, ds);
            }
            int d = BatchDescriptor.createBatchDescriptor(b, schemaId, length, nv, rv, bv, vv, dv, false);
            Request.startRequest(b);
            Request.addAction(b, action);
            if (schema != 0) {
                Request.addSchema(b, schema);
            }
            Request.addArrow(b, d);
            b.finish(Request.endRequest(b));
            return b.sizedByteArray();
        }
    }

    private Desc describe(VectorSchemaRoot root) {
        ArrowExporter exporter = new ArrowExporter(pyArena, new SchemaRegistry(), am -> null);
        ArrowExporter.Exported x = exporter.copy(root);
        Desc d = new Desc();
        d.ipcSchema = bytes(MessageSerializer.serializeMetadata(root.getSchema(), org.apache.arrow.vector.ipc.message.IpcOption.DEFAULT));
        d.length = x.length;
        for (ArrowFieldNode n : x.nodes) {
            d.nodes.add(new long[] {n.getLength(), n.getNullCount()});
        }
        d.regions.add(new long[] {x.region.handle() ^ 0x5A5AL, PY_SEGMENT, x.region.offset(), x.region.length()});
        for (long[] b : x.buffers) {
            d.buffers.add(new long[] {0, b[0], b[1]});
        }
        d.variadic.addAll(x.variadic);
        return d;
    }

    /** A descriptor of {@code root} whose dictionary-encoded columns use {@code provider}'s dictionaries. */
    private Desc describe(VectorSchemaRoot root, org.apache.arrow.vector.dictionary.DictionaryProvider provider) {
        ArrowExporter exporter = new ArrowExporter(pyArena, new SchemaRegistry(), am -> null);
        ArrowExporter.Exported x = exporter.copy(root, provider);
        Desc d = new Desc();
        d.ipcSchema = bytes(MessageSerializer.serializeMetadata(Dictionaries.messageFormat(root.getSchema(), provider),
                org.apache.arrow.vector.ipc.message.IpcOption.DEFAULT));
        d.length = x.length;
        for (ArrowFieldNode n : x.nodes) {
            d.nodes.add(new long[] {n.getLength(), n.getNullCount()});
        }
        d.regions.add(new long[] {x.region.handle() ^ 0x5A5AL, PY_SEGMENT, x.region.offset(), x.region.length()});
        int own = x.dictionaries.isEmpty() ? x.buffers.length : x.dictionaries.get(0).from();
        for (int i = 0; i < own; i++) {
            d.buffers.add(new long[] {0, x.buffers[i][0], x.buffers[i][1]});
        }
        for (ArrowExporter.ExportedDictionary xd : x.dictionaries) {
            d.dictionaries.add(new long[] {xd.id(), xd.length(), 0});
            List<long[]> nodes = new ArrayList<>();
            for (ArrowFieldNode n : xd.nodes()) {
                nodes.add(new long[] {n.getLength(), n.getNullCount()});
            }
            d.dictionaryNodes.add(nodes);
            List<long[]> bufs = new ArrayList<>();
            for (int i = xd.from(); i < xd.to(); i++) {
                bufs.add(new long[] {0, x.buffers[i][0], x.buffers[i][1]});
            }
            d.dictionaryBuffers.add(bufs);
        }
        return d;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private VectorSchemaRoot importRequest(byte[] request) {
        Request r = Request.getRootAsRequest(ByteBuffer.wrap(request));
        return session.importBatch(r.schema(), r.arrow());
    }

    @Test
    void anImportedRootNobodyReferencesGivesItsRegionsBack() throws Exception {
        java.lang.ref.WeakReference<VectorSchemaRoot> weak;
        try (VectorSchemaRoot src = sample()) {
            weak = new java.lang.ref.WeakReference<>(importRequest(describe(src).request(
                    gatun.protocol.Action.SendArrowBatch)));
        }
        assertEquals(0, drainToPython().size(), "not closed by anyone");
        ArrowBridge.reclaim(5_000);
        assertNull(weak.get(), "the root is unreachable");
        assertEquals(1, drainToPython().size(), "its region is released");
        // The memory is back with Python; Arrow's accounting of the allocation
        // that was never closed stays with its allocator.
        accountingLeakExpected = true;
    }

    @Test
    void aRootGivenToJavaCodeIsNotClosedWhenPythonReleasesIt() {
        gatun.server.ObjectRegistry registry = new gatun.server.ObjectRegistry(100);
        try (VectorSchemaRoot src = sample()) {
            VectorSchemaRoot unseen = importRequest(describe(src).request(gatun.protocol.Action.SendArrowBatch));
            long a = registry.register(unseen);
            registry.markUnseen(unseen);
            VectorSchemaRoot given = importRequest(describe(src).request(gatun.protocol.Action.SendArrowBatch));
            long b = registry.register(given);
            registry.markUnseen(given);
            registry.seenByJava(given); // passed to a method: Java may keep it
            registry.release(a);
            assertEquals(1, drainToPython().size(), "the root no Java code saw is closed");
            registry.release(b);
            assertEquals(0, drainToPython().size(), "the root Java code was given stays valid");
            assertEquals(10, given.getRowCount());
            given.close();
            assertEquals(1, drainToPython().size());
        }
    }

    /** Drains the Java -&gt; Python ring like Python does. */
    private List<long[]> drainToPython() {
        session.flushReleases();
        int ring = ControlSegment.RING_JAVA_TO_PY_OFFSET;
        long head = seg.releaseRing(ring).head();
        List<long[]> out = new ArrayList<>();
        for (long t = seg.releaseRing(ring).tail(); t < head; t++) {
            out.add(new long[] {seg.releaseRing(ring).handle(t), seg.releaseRing(ring).count(t)});
        }
        seg.releaseRing(ring).setTail(head);
        return out;
    }

    // ---------------------------------------------------------------- tests

    @Test
    void roundTripAndOneReleaseWhenTheRootCloses() {
        try (VectorSchemaRoot src = sample()) {
            Desc d = describe(src);
            VectorSchemaRoot got = importRequest(d.request(gatun.protocol.Action.SendArrowBatch));
            assertEquals(src.getRowCount(), got.getRowCount());
            assertEquals(src.getSchema(), got.getSchema());
            for (FieldVector v : src.getFieldVectors()) {
                FieldVector g = got.getVector(v.getName());
                for (int i = 0; i < src.getRowCount(); i++) {
                    assertEquals(String.valueOf(v.getObject(i)), String.valueOf(g.getObject(i)), v.getName() + "[" + i + "]");
                }
            }
            assertEquals(0, drainToPython().size(), "no release while the root is open");
            // The data is Python's memory, referenced in place.
            assertTrue(target.getAllocatedMemory() > 0);
            got.close();
            List<long[]> notices = drainToPython();
            assertEquals(1, notices.size());
            assertEquals(d.regions.get(0)[0], notices.get(0)[0]);
            assertEquals(1, notices.get(0)[1]);
            // A second batch with the same schema id needs no definition.
            d.ipcSchema = null;
            VectorSchemaRoot again = importRequest(d.request(gatun.protocol.Action.SendArrowBatch));
            assertEquals(10, again.getRowCount());
            // A transfer to another vector keeps the region alive until that vector closes.
            BigIntVector moved = (BigIntVector) again.getVector("x").getTransferPair(target).getTo();
            again.getVector("x").makeTransferPair(moved).transfer();
            again.close();
            assertEquals(0, drainToPython().size(), "the transferred vector still holds the region");
            moved.close();
            assertEquals(1, drainToPython().size());
        }
    }

    @Test
    void unknownSchemaIdIsAnErrorAndStillReleases() {
        try (VectorSchemaRoot src = sample()) {
            Desc d = describe(src);
            d.ipcSchema = null;
            d.schemaId = 99;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> importRequest(d.request(gatun.protocol.Action.SendArrowBatch)));
            assertEquals("unknown schema id 99 (define it first)", e.getMessage());
            assertEquals(1, drainToPython().size());
        }
    }

    @Test
    void corruptDescriptorsAreRefusedAndEveryRegionIsReleasedOnce() {
        try (VectorSchemaRoot src = sample()) {
            long segSize = 1 << 20;
            List<Consumer<Desc>> corruptions = List.of(
                    d -> d.buffers.get(2)[2] = 1L << 40,                      // buffer longer than the region
                    d -> d.buffers.get(2)[1] = Long.MAX_VALUE,                // offset overflow
                    d -> d.buffers.get(2)[2] = -1,                            // "huge" u64 length
                    d -> d.buffers.get(1)[0] = 5,                             // no such region
                    d -> d.regions.get(0)[2] = segSize - 64,                  // region past the segment end
                    d -> d.regions.get(0)[3] = -8,                            // huge region
                    d -> d.regions.get(0)[2] = Long.MIN_VALUE,                // negative offset
                    d -> d.regions.get(0)[1] = 3,                             // unpublished segment
                    d -> d.regions.get(0)[1] = 0x8001,                        // not Python's segment id
                    d -> d.nodes.remove(0),                                   // node count
                    d -> d.buffers.remove(d.buffers.size() - 1),              // buffer count
                    d -> d.nodes.get(0)[1] = d.nodes.get(0)[0] + 1,           // null count above length
                    d -> d.nodes.get(0)[0] = -1,                              // negative node length
                    d -> d.length = 1L << 33,                                 // rows beyond int
                    d -> d.length = -5,
                    d -> d.variadic.add(1L),                                  // variadic counts without views
                    d -> { d.nodes.get(0)[0] = 5000; d.length = 5000; },      // buffers too short for the rows
                    d -> d.buffers.get(5)[2] = 8,                             // utf8 offsets buffer truncated
                    d -> d.ipcSchema = new byte[] {1, 2, 3, 4, 5, 6, 7, 8},   // garbage schema
                    d -> d.ipcSchema = new byte[64]);                         // zero schema
            int i = 0;
            for (Consumer<Desc> c : corruptions) {
                Desc d = describe(src);
                d.schemaId = 100 + i; // a fresh id: a corrupt definition must not linger
                c.accept(d);
                int n = i++;
                RuntimeException e = assertThrows(RuntimeException.class,
                        () -> importRequest(d.request(gatun.protocol.Action.SendArrowBatch)), "corruption " + n);
                assertNotNull(e.getMessage());
                List<long[]> notices = drainToPython();
                assertEquals(1, notices.size(), "corruption " + n + " (" + e + ") released its region once");
                assertEquals(d.regions.get(0)[0], notices.get(0)[0]);
            }
            assertEquals(0, target.getAllocatedMemory());
        }
    }

    /** A root with a dictionary-encoded column {@code k} (ids 0,1,null,2,0 over [red, green, blue]). */
    private VectorSchemaRoot dictionarySample(org.apache.arrow.vector.dictionary.DictionaryProvider.MapDictionaryProvider
            provider) {
        org.apache.arrow.vector.types.pojo.DictionaryEncoding enc =
                new org.apache.arrow.vector.types.pojo.DictionaryEncoding(4, false, new ArrowType.Int(32, true));
        VarCharVector values = new VarCharVector("k", source);
        String[] words = {"red", "green", "blue"};
        for (int i = 0; i < 3; i++) {
            values.setSafe(i, words[i].getBytes(StandardCharsets.UTF_8));
        }
        values.setValueCount(3);
        provider.put(new org.apache.arrow.vector.dictionary.Dictionary(values, enc));
        Field k = new Field("k", new FieldType(true, new ArrowType.Int(32, true), enc), null);
        VectorSchemaRoot root = VectorSchemaRoot.create(new Schema(List.of(k)), source);
        org.apache.arrow.vector.IntVector keys = (org.apache.arrow.vector.IntVector) root.getVector("k");
        int[] ids = {0, 1, -1, 2, 0};
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0) {
                keys.setNull(i);
            } else {
                keys.setSafe(i, ids[i]);
            }
        }
        root.setRowCount(ids.length);
        return root;
    }

    private StagedBatch stageRequest(byte[] request) {
        Request r = Request.getRootAsRequest(ByteBuffer.wrap(request));
        return session.stage(r.schema(), r.arrow());
    }

    @Test
    void dictionaryBatchesAreCheckedAndLoadIntoAReader() throws Exception {
        var provider = new org.apache.arrow.vector.dictionary.DictionaryProvider.MapDictionaryProvider();
        try (VectorSchemaRoot src = dictionarySample(provider)) {
            Desc good = describe(src, provider);
            StagedBatch staged = stageRequest(good.request(gatun.protocol.Action.ArrowStream));
            try (BridgeArrowReader reader = new BridgeArrowReader(staged.schema(), target)) {
                reader.offer(staged);
                reader.end();
                assertTrue(reader.loadNextBatch());
                FieldVector keys = reader.getVectorSchemaRoot().getVector("k");
                try (org.apache.arrow.vector.ValueVector decoded = org.apache.arrow.vector.dictionary.DictionaryEncoder
                        .decode(keys, reader.lookup(4))) {
                    assertEquals("[red, green, null, blue, red]", decoded.toString());
                }
                assertFalse(reader.loadNextBatch());
            }
            drainToPython();
            List<Consumer<Desc>> corruptions = List.of(
                    d -> d.dictionaries.get(0)[0] = 9,                         // wrong dictionary id
                    d -> d.dictionaries.get(0)[2] = 1,                         // delta
                    d -> d.dictionaries.get(0)[1] = -1,                        // negative length
                    d -> d.dictionaryBuffers.get(0).get(1)[2] = 1L << 40,      // buffer past the region
                    d -> d.dictionaryBuffers.get(0).remove(2),                 // buffer count
                    d -> d.dictionaryNodes.get(0).get(0)[0] = 4000,            // buffers too short for the rows
                    d -> {                                                      // no dictionary at all
                        d.dictionaries.clear();
                        d.dictionaryNodes.clear();
                        d.dictionaryBuffers.clear();
                    });
            int i = 0;
            for (Consumer<Desc> c : corruptions) {
                Desc d = describe(src, provider);
                d.schemaId = 200 + i;
                c.accept(d);
                int n = i++;
                RuntimeException e = assertThrows(RuntimeException.class,
                        () -> stageRequest(d.request(gatun.protocol.Action.ArrowStream)).close(), "corruption " + n);
                assertNotNull(e.getMessage());
                assertEquals(1, drainToPython().size(), "corruption " + n + " (" + e + ") released its region once");
            }
        } finally {
            provider.lookup(4).getVector().close();
        }
    }

    @Test
    void twoRegionsAndEmptyBuffers() {
        try (VectorSchemaRoot src = sample()) {
            Desc d = describe(src);
            // Move the last buffer into a second region (the same bytes, described twice).
            long[] last = d.buffers.get(d.buffers.size() - 1);
            long[] r0 = d.regions.get(0);
            d.regions.add(new long[] {r0[0] + 1, PY_SEGMENT, r0[2] + last[1], Math.max(last[2], 64)});
            d.buffers.set(d.buffers.size() - 1, new long[] {1, 0, last[2]});
            VectorSchemaRoot got = importRequest(d.request(gatun.protocol.Action.SendArrowBatch));
            assertEquals(String.valueOf(src.getVector("st").getObject(4)), String.valueOf(got.getVector("st").getObject(4)));
            got.close();
            assertEquals(2, drainToPython().size());
        }
        // A zero-row batch whose region is empty.
        Schema schema = new Schema(List.of(Field.nullable("x", new ArrowType.Int(64, true))));
        Desc d = new Desc();
        d.ipcSchema = bytes(MessageSerializer.serializeMetadata(schema, org.apache.arrow.vector.ipc.message.IpcOption.DEFAULT));
        d.length = 0;
        d.nodes.add(new long[] {0, 0});
        d.regions.add(new long[] {42, PY_SEGMENT, 128, 0});
        d.buffers.add(new long[] {0, 0, 0});
        d.buffers.add(new long[] {0, 0, 0});
        VectorSchemaRoot empty = importRequest(d.request(gatun.protocol.Action.SendArrowBatch));
        assertEquals(0, empty.getRowCount());
        empty.close();
        List<long[]> notices = drainToPython();
        assertEquals(1, notices.size());
        assertEquals(42, notices.get(0)[0]);
    }

    @Test
    void aFullRingKeepsTheRestForLater() {
        RegionReleases q = new RegionReleases(seg);
        int n = ReleaseRing.CAPACITY + 10;
        for (int i = 0; i < n; i++) {
            q.add(i, 1);
        }
        assertEquals(ReleaseRing.CAPACITY, q.flush());
        assertEquals(10, q.pending());
        assertEquals(0, q.flush(), "full until Python drains");
        int ring = ControlSegment.RING_JAVA_TO_PY_OFFSET;
        assertEquals(0, seg.releaseRing(ring).handle(0));
        seg.releaseRing(ring).setTail(5);
        assertEquals(5, q.flush());
        assertEquals(ReleaseRing.CAPACITY, seg.releaseRing(ring).handle(ReleaseRing.CAPACITY));
        assertEquals(5, q.pending());
    }

    @Test
    void schemaDefinitionsAndDictionaries() {
        Desc d = new Desc();
        d.ipcSchema = new byte[0];
        assertThrows(RuntimeException.class, () -> importRequest(d.request(gatun.protocol.Action.SendArrowBatch)));
        Field dict = new Field("d", new FieldType(true, new ArrowType.Int(32, true),
                new org.apache.arrow.vector.types.pojo.DictionaryEncoding(1, false, null)), null);
        byte[] ipc = bytes(MessageSerializer.serializeMetadata(new Schema(List.of(dict)), org.apache.arrow.vector.ipc.message.IpcOption.DEFAULT));
        FlatBufferBuilder b = new FlatBufferBuilder(256);
        int v = SchemaDefinition.createIpcSchemaVector(b, ipc);
        b.finish(SchemaDefinition.createSchemaDefinition(b, 3, v));
        SchemaDefinition def = SchemaDefinition.getRootAsSchemaDefinition(b.dataBuffer());
        // A dictionary-encoded column is accepted (it crosses through a reader) ...
        assertEquals(1, Dictionaries.entries(session.defineSchema(def)).size());
        // ... but two columns sharing one dictionary id are not.
        Field dict2 = new Field("e", dict.getFieldType(), null);
        byte[] shared = bytes(MessageSerializer.serializeMetadata(new Schema(List.of(dict, dict2)),
                org.apache.arrow.vector.ipc.message.IpcOption.DEFAULT));
        FlatBufferBuilder b2 = new FlatBufferBuilder(256);
        int v2 = SchemaDefinition.createIpcSchemaVector(b2, shared);
        b2.finish(SchemaDefinition.createSchemaDefinition(b2, 4, v2));
        SchemaDefinition def2 = SchemaDefinition.getRootAsSchemaDefinition(b2.dataBuffer());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> session.defineSchema(def2));
        assertTrue(e.getMessage().contains("dictionary id 1"), e.getMessage());
    }

    @Test
    void dispatcherAnswersWithAReferenceOrAnErrorReply() throws Exception {
        gatun.server.ObjectRegistry registry = new gatun.server.ObjectRegistry(100);
        gatun.server.reflect.ClassPolicy policy = new gatun.server.reflect.ClassPolicy();
        gatun.server.dispatch.Dispatcher dispatcher = new gatun.server.dispatch.Dispatcher(registry,
                new gatun.server.reflect.MethodResolver(policy), policy, new gatun.server.Metrics(), () -> 1, session);
        try (VectorSchemaRoot src = sample()) {
            Desc d = describe(src);
            gatun.protocol.Response ok = dispatch(dispatcher, d.request(gatun.protocol.Action.SendArrowBatch));
            assertNull(ok.error(), () -> ok.error().message());
            assertEquals(ValueKind.Object, ok.value().kind());
            assertEquals(VectorSchemaRoot.class.getName(), ok.value().className());
            VectorSchemaRoot root = (VectorSchemaRoot) registry.get(ok.value().objectId());
            assertEquals(10, root.getRowCount());

            Desc bad = describe(src);
            bad.buffers.get(3)[2] = 1L << 50;
            gatun.protocol.Response err = dispatch(dispatcher, bad.request(gatun.protocol.Action.SendArrowBatch));
            assertNotNull(err.error());
            assertTrue(err.error().message().contains("exceeds its region"), err.error().message());
            assertEquals(1, drainToPython().size(), "the refused region is released");

            Desc def = describe(src);
            def.schemaId = 77;
            gatun.protocol.Response defined = dispatch(dispatcher, def.request(gatun.protocol.Action.DefineSchema));
            assertNull(defined.error(), () -> defined.error().message());
            assertEquals(ValueKind.Null, defined.value().kind());
            drainToPython(); // DefineSchema carries no batch to release; the test's copy is unused

            // A SendArrowBatch skipped after an earlier error in a batch still releases its region.
            FlatBufferBuilder bb = new FlatBufferBuilder(1024);
            int cls = bb.createString("no.such.Clazz");
            int name = bb.createString("m");
            Request.startRequest(bb);
            Request.addAction(bb, gatun.protocol.Action.InvokeStaticMethod);
            Request.addClassName(bb, cls);
            Request.addName(bb, name);
            int failing = Request.endRequest(bb);
            ByteBuffer inner = ByteBuffer.wrap(describe(src).request(gatun.protocol.Action.SendArrowBatch));
            Request sub = Request.getRootAsRequest(inner);
            int arrowItem = copySendRequest(bb, sub);
            int items = Request.createBatchVector(bb, new int[] {failing, arrowItem});
            Request.startRequest(bb);
            Request.addAction(bb, gatun.protocol.Action.Batch);
            Request.addBatch(bb, items);
            Request.addStopOnError(bb, true);
            bb.finish(Request.endRequest(bb));
            gatun.protocol.Response batch = dispatch(dispatcher, bb.sizedByteArray());
            assertEquals(2, batch.batchLength());
            assertNotNull(batch.batch(1).error());
            assertEquals(1, drainToPython().size(), "the skipped batch's region is released");

            // The session ends with the root still registered. No Java code was given it,
            // so only the session could reach it: the bridge closes it.
            java.util.List<Object> left = registry.drain();
            assertEquals(1, left.size());
            assertEquals(1, drainToPython().size(), "the root nobody else saw is closed and released");
        }
    }

    /** Re-encodes a SendArrowBatch request (descriptor only) into {@code b}. */
    private static int copySendRequest(FlatBufferBuilder b, Request src) {
        BatchDescriptor d = src.arrow();
        BatchDescriptor.startNodesVector(b, d.nodesLength());
        for (int i = d.nodesLength() - 1; i >= 0; i--) {
            FieldNode.createFieldNode(b, d.nodes(i).length(), d.nodes(i).nullCount());
        }
        int nv = b.endVector();
        BatchDescriptor.startRegionsVector(b, d.regionsLength());
        for (int i = d.regionsLength() - 1; i >= 0; i--) {
            RegionRef r = d.regions(i);
            RegionRef.createRegionRef(b, r.handle(), r.segment(), 0, r.offset(), r.length());
        }
        int rv = b.endVector();
        BatchDescriptor.startBuffersVector(b, d.buffersLength());
        for (int i = d.buffersLength() - 1; i >= 0; i--) {
            BufferRef r = d.buffers(i);
            BufferRef.createBufferRef(b, r.region(), 0, r.offset(), r.length());
        }
        int bv = b.endVector();
        int desc = BatchDescriptor.createBatchDescriptor(b, d.schemaId(), d.length(), nv, rv, bv, 0, 0, false);
        Request.startRequest(b);
        Request.addAction(b, gatun.protocol.Action.SendArrowBatch);
        Request.addArrow(b, desc);
        return Request.endRequest(b);
    }

    private static gatun.protocol.Response dispatch(gatun.server.dispatch.Dispatcher d, byte[] request) {
        FlatBufferBuilder b = new FlatBufferBuilder(1024);
        b.finish(d.handle(b, ByteBuffer.wrap(request)));
        return gatun.protocol.Response.getRootAsResponse(b.dataBuffer());
    }

    // ------------------------------------------------------------ Java -> Python

    @Test
    void arenaAllocatesFreesAndCoalesces() throws Exception {
        RegionLedger a = new RegionLedger(seg, 1 << 20);
        try {
            RegionLedger.Region r1 = a.allocate(1);
            RegionLedger.Region r2 = a.allocate(100);
            RegionLedger.Region r3 = a.allocate(64);
            assertEquals(0, r1.offset());
            assertEquals(64, r1.length());
            assertEquals(64, r2.offset());
            assertEquals(128, r2.length());
            assertEquals(192, r3.offset());
            assertEquals(RegionLedger.FIRST_SEGMENT_ID, r1.segmentId());
            assertEquals(RegionHandle.pack(0x8000, 64, 2), r2.handle());
            assertEquals(0x8000L << 48 | 1L << 24 | 2, r2.handle());
            assertEquals(1, seg.directory().published(SegmentDirectory.PYTHON_ENTRIES));
            assertEquals(0x8000, seg.directory().segmentId(32));
            assertEquals(-1, seg.directory().memfd(32));
            assertEquals(1, seg.directory().owner(32));
            assertEquals(1 << 20, seg.directory().size(32));
            assertTrue(java.nio.file.Files.exists(java.nio.file.Path.of(seg.directory().name(32))));
            a.addPeerHold(r2);
            a.addPeerHold(r2);
            assertFalse(a.peerReleased(r2.handle() + 1, 1), "stale generation ignored");
            assertTrue(a.peerReleased(r2.handle(), 1));
            assertEquals(3, a.liveRegions());
            // Python -> Java ring.
            int ring = ControlSegment.RING_PY_TO_JAVA_OFFSET;
            seg.releaseRing(ring).write(0, r2.handle(), 1);
            seg.releaseRing(ring).setHead(1);
            assertEquals(1, a.drainRing());
            assertEquals(1, seg.releaseRing(ring).tail());
            assertEquals(2, a.liveRegions());
            a.free(r1);
            RegionLedger.Region r4 = a.allocate(192); // r1 + r2 coalesced
            assertEquals(0, r4.offset());
            RegionLedger.Region big = a.allocate(3 << 20); // a bigger segment
            assertEquals(0x8001, big.segmentId());
            assertEquals(3L << 20, seg.directory().size(33));
            // A corrupt head is not followed.
            seg.releaseRing(ring).setHead(1 + ReleaseRing.CAPACITY + 1);
            assertEquals(0, a.drainRing());
            assertThrows(IllegalArgumentException.class, () -> a.allocate(2L << 30));
        } finally {
            String name = seg.directory().name(32);
            a.close();
            assertEquals(2, seg.directory().published(32));
            assertFalse(java.nio.file.Files.exists(java.nio.file.Path.of(name)));
        }
    }

    @Test
    void exportedValueDescribesTheCopyAndImportsBack() throws Exception {
        try (VectorSchemaRoot src = sample()) {
            FlatBufferBuilder b = new FlatBufferBuilder(1024);
            int off = session.exportValue(b, src);
            b.finish(off);
            Value v = Value.getRootAsValue(b.dataBuffer());
            assertEquals(ValueKind.Arrow, v.kind());
            assertEquals("root", v.arrowShape());
            assertNotNull(v.schema());
            assertEquals(1, v.schema().schemaId());
            BatchDescriptor d = v.arrow();
            assertEquals(1, d.schemaId());
            assertEquals(10, d.length());
            assertEquals(1, d.regionsLength());
            RegionRef r = d.regions(0);
            assertEquals(RegionLedger.FIRST_SEGMENT_ID, r.segment());
            assertEquals(r.handle() >>> 48, r.segment());
            assertEquals((r.handle() >>> 24 & 0xFFFFFF) * 64, r.offset());
            for (int i = 0; i < d.buffersLength(); i++) {
                assertEquals(0, d.buffers(i).offset() % 64);
                assertTrue(d.buffers(i).offset() + d.buffers(i).length() <= r.length());
            }
            assertEquals(1, session.ledger().liveRegions());
            // The second value with the same schema carries no definition.
            FlatBufferBuilder b2 = new FlatBufferBuilder(1024);
            b2.finish(session.exportValue(b2, src.getVector("x")));
            Value v2 = Value.getRootAsValue(b2.dataBuffer());
            assertEquals("vector", v2.arrowShape());
            assertNotNull(v2.schema(), "a one-column schema is new");
            FlatBufferBuilder b3 = new FlatBufferBuilder(1024);
            b3.finish(session.exportValue(b3, src));
            assertNotNull(Value.getRootAsValue(b3.dataBuffer()).schema(),
                    "until Python has read a definition, every value carries it (another lane may be read first)");
            assertEquals(3, session.ledger().liveRegions());
            // Python sends its next message on the lane: it has read the definitions.
            gatun.server.dispatch.ResponseJournal journal = gatun.server.dispatch.ResponseJournal.current();
            journal.delivered(0);
            journal.acknowledged();
            FlatBufferBuilder b4 = new FlatBufferBuilder(1024);
            b4.finish(session.exportValue(b4, src));
            assertNull(Value.getRootAsValue(b4.dataBuffer()).schema(), "a schema Python has read is not sent again");
            journal.delivered(0);
            session.ledger().peerReleased(Value.getRootAsValue(b4.dataBuffer()).arrow().regions(0).handle(), 1);
            assertEquals(3, session.ledger().liveRegions());
            // Python releases them.
            int ring = ControlSegment.RING_PY_TO_JAVA_OFFSET;
            long head = seg.releaseRing(ring).head();
            seg.releaseRing(ring).write(head, r.handle(), 1);
            seg.releaseRing(ring).write(head + 1, v2.arrow().regions(0).handle(), 1);
            seg.releaseRing(ring).setHead(head + 2);
            assertEquals(2, session.drainPeerReleases());
            assertEquals(1, session.ledger().liveRegions());
            // Import the copy back, treating the Java segment as Python's (same file).
            seg.directory().publish(1, 2, 0, 1, 1, seg.directory().size(32), -1, seg.directory().name(32));
            Desc back = new Desc();
            Value v3 = Value.getRootAsValue(b3.dataBuffer());
            BatchDescriptor d3 = v3.arrow();
            back.ipcSchema = bytes(MessageSerializer.serializeMetadata(src.getSchema(), org.apache.arrow.vector.ipc.message.IpcOption.DEFAULT));
            back.schemaId = 50;
            back.length = d3.length();
            for (int i = 0; i < d3.nodesLength(); i++) {
                back.nodes.add(new long[] {d3.nodes(i).length(), d3.nodes(i).nullCount()});
            }
            RegionRef r3 = d3.regions(0);
            back.regions.add(new long[] {r3.handle(), 2, r3.offset(), r3.length()});
            for (int i = 0; i < d3.buffersLength(); i++) {
                back.buffers.add(new long[] {0, d3.buffers(i).offset(), d3.buffers(i).length()});
            }
            try (VectorSchemaRoot got = importRequest(back.request(gatun.protocol.Action.SendArrowBatch))) {
                for (FieldVector fv : src.getFieldVectors()) {
                    for (int i = 0; i < 10; i++) {
                        assertEquals(String.valueOf(fv.getObject(i)), String.valueOf(got.getVector(fv.getName()).getObject(i)));
                    }
                }
            }
            assertEquals(1, drainToPython().size());
        }
    }

    @Test
    void handlePackingMatchesTheLayout() {
        long h = RegionHandle.pack(0x8003, 64L * 5, 0x1234567);
        assertEquals(0x8003, h >>> 48);
        assertEquals(5, h >>> 24 & 0xFFFFFF);
        assertEquals(0x234567, h & 0xFFFFFF);
    }
}
