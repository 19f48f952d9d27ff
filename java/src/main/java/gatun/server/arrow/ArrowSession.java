package gatun.server.arrow;

import gatun.server.ServerLog;
import gatun.protocol.BatchDescriptor;
import gatun.protocol.SchemaDefinition;
import gatun.server.ProtocolException;
import gatun.server.shm.ControlSegment;
import gatun.server.shm.ReleaseRing;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.BufferLedger;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.compression.NoCompressionCodec;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
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
    public static final long MAX_ROWS = DescriptorReader.MAX_ROWS;

    private final ControlSegment seg;
    private final BufferAllocator allocator;
    private final RegionReleases releases;
    private final SchemaRegistry schemas = new SchemaRegistry();
    private final PeerSegments peerSegments;
    private final RegionLedger ledger;
    private final ArrowExporter exporter;
    /** Imports in flight, so a concurrent close cannot be missed: guarded by this. */
    private volatile boolean closed;

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

    /**
     * @param seg the session's control segment (validated)
     * @param allocator the allocator receiving Python's buffers
     */
    public ArrowSession(ControlSegment seg, BufferAllocator allocator) {
        this.seg = seg;
        this.allocator = allocator;
        this.releases = new RegionReleases(seg);
        this.ledger = new RegionLedger(seg);
        this.peerSegments = new PeerSegments(seg);
        this.exporter = new ArrowExporter(ledger, schemas, wrapped::get);
    }

    /** The session's Arrow quota, or null (no limit). */
    private volatile gatun.server.limits.SessionQuota quota;
    /** Server counters of Arrow traffic, or null. */
    private volatile gatun.server.Metrics metrics;

    /**
     * Counts this session's Arrow traffic and holds Python's Arrow memory to
     * the session's {@code max_arrow_bytes}.
     *
     * @param quota the session's limits
     * @param metrics server counters
     */
    public void account(gatun.server.limits.SessionQuota quota, gatun.server.Metrics metrics) {
        this.quota = quota;
        this.metrics = metrics;
        exporter.metrics = metrics;
    }

    /** @return the allocator Python's buffers belong to */
    public BufferAllocator allocator() {
        return allocator;
    }

    /** @return Python's segments this session has mapped */
    PeerSegments peerSegments() {
        return peerSegments;
    }

    /**
     * Registers a schema Python defined ({@link SchemaRegistry#define}).
     *
     * @param def the definition (id and IPC Schema message bytes)
     * @return the schema
     */
    public Schema defineSchema(SchemaDefinition def) {
        return schemas.define(def);
    }

    /** @return the session's RegionLedger: the regions Java described to Python and their holds */
    public RegionLedger ledger() {
        return ledger;
    }

    // ------------------------------------------------------------- import

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
        DescriptorReader.Region[] regions = DescriptorReader.readRegions(d);
        List<AutoCloseable> made = new ArrayList<>();
        boolean handedOver = false;
        try {
            synchronized (this) {
                if (closed) {
                    throw new IllegalStateException("the session is closing");
                }
            }
            if (def != null) {
                schemas.define(def);
            }
            long schemaId = d.schemaId();
            SchemaRegistry.Defined defined = schemas.get(schemaId);
            if (defined == null) {
                throw new IllegalArgumentException("unknown schema id " + schemaId + " (define it first)");
            }
            DescriptorReader.Checked checked = DescriptorReader.check(d, regions, defined);
            Schema schema = defined.schema();
            peerSegments.map(regions);
            DescriptorReader.Part main = checked.batch();
            take(regions, main, checked.dictionaries());
            wrap(regions);
            ArrowRecordBatch batch = recordBatch((int) main.length(), main.nodes(), main.buffers(), main.variadic(),
                    regions);
            made.add(batch);
            List<ArrowDictionaryBatch> dictionaries = new ArrayList<>(checked.dictionaries().size());
            for (DescriptorReader.Part part : checked.dictionaries()) {
                ArrowRecordBatch values = recordBatch((int) part.length(), part.nodes(), part.buffers(),
                        part.variadic(), regions);
                ArrowDictionaryBatch dictionary = new ArrowDictionaryBatch(part.dictionaryId(), values, false);
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
            for (DescriptorReader.Region r : regions) {
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
                for (DescriptorReader.Region r : regions) {
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
        DescriptorReader.Region[] regions;
        try {
            regions = DescriptorReader.readRegions(d);
        } catch (RuntimeException e) {
            return; // unreadable: nothing to release
        }
        for (DescriptorReader.Region r : regions) {
            releases.add(r.handle, 1);
        }
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

    /**
     * Counts a batch as received and takes its regions' bytes from the
     * session's Arrow quota (given back as each region is released; see
     * {@link #wrap}); throws before anything is wrapped when they do not fit.
     */
    private void take(DescriptorReader.Region[] regions, DescriptorReader.Part main,
                      List<DescriptorReader.Part> dictionaries) {
        gatun.server.limits.SessionQuota q = quota;
        if (q != null) {
            long held = 0;
            for (DescriptorReader.Region r : regions) {
                held += r.length;
            }
            q.takeArrow(held);
        }
        gatun.server.Metrics m = metrics;
        if (m != null) {
            long bytes = 0;
            for (long[] b : main.buffers()) {
                bytes += b[2];
            }
            for (DescriptorReader.Part part : dictionaries) {
                for (long[] b : part.buffers()) {
                    bytes += b[2];
                }
            }
            m.arrowBytesIn.add(bytes);
            m.arrowBatchesIn.increment();
            m.arrowRowsIn.add(main.length());
        }
    }

    /** Wraps each region once as a foreign allocation of {@link #allocator}. */
    private void wrap(DescriptorReader.Region[] regions) {
        for (DescriptorReader.Region r : regions) {
            if (r.length == 0) {
                continue; // nothing to wrap; its Release is queued with the others
            }
            gatun.server.limits.SessionQuota q = quota;
            r.allocation = new RegionAllocation(r.mapping, r.offset, r.length, r.handle, releases,
                    q == null ? null : q::giveBackArrow);
            r.buf = allocator.wrapForeignAllocation(r.allocation);
            if (r.buf.getReferenceManager() instanceof BufferLedger) {
                wrapped.put(((BufferLedger) r.buf.getReferenceManager()).getAllocationManager(),
                        new PythonRegion(r.handle, r.segment, r.offset, r.length, r.mapping.address() + r.offset));
            }
        }
    }

    /** An IPC record batch over slices of the wrapped regions (it retains each slice). */
    private ArrowRecordBatch recordBatch(int length, List<ArrowFieldNode> nodes, long[][] buffers,
                                         List<Long> variadic, DescriptorReader.Region[] regions) {
        List<ArrowBuf> slices = new ArrayList<>(buffers.length);
        for (long[] b : buffers) {
            DescriptorReader.Region r = b[0] < 0 ? null : regions[(int) b[0]];
            slices.add(r == null || r.buf == null ? allocator.getEmpty() : r.buf.slice(b[1], b[2]));
        }
        return new ArrowRecordBatch(length, nodes, slices, NoCompressionCodec.DEFAULT_BODY_COMPRESSION, variadic,
                false, true);
    }

    /**
     * Checks loaded vectors' buffers: {@code validate()} minus its type
     * visitor, which rejects every MapVector (it checks a MapVector as if it
     * were a List) in Arrow Java 18 and 19.0.0, plus the view types (see
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

    /** @return the Release notices for Python's regions waiting for the ring */
    RegionReleases regionReleases() {
        return releases;
    }

    /**
     * Applies Python's Release notices for Java's regions (Python -&gt; Java ring);
     * the lane worker calls it at the start of every request.
     *
     * @return notices read
     */
    public int drainPeerReleases() {
        return ledger.drainRing(this::acknowledged);
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
                ServerLog.LOG.warning("an acknowledgement action failed: " + e);
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
        ledger.close();
    }
}
