package gatun.server.arrow;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.util.TransferPair;

/**
 * The Arrow side of the gatun bridge, as JVM code sees it.
 *
 * <h2>Receiving Arrow data from Python</h2>
 * {@code client.send_arrow(table)} in Python moves each batch into the shared
 * payload arena and hands Java a {@link org.apache.arrow.vector.VectorSchemaRoot}
 * registered as an ordinary object: Python gets a proxy for it and passes that
 * proxy to any method; a pyarrow table passed as an argument arrives the same
 * way, e.g.
 * <pre>{@code
 * public static long sum(VectorSchemaRoot in, String column) {
 *     BigIntVector v = (BigIntVector) in.getVector(column);
 *     long s = 0;
 *     for (int i = 0; i < in.getRowCount(); i++) {
 *         if (!v.isNull(i)) s += v.get(i);
 *     }
 *     return s;
 * }
 * }</pre>
 * The root's buffers are Python's arena memory, referenced in place (no copy).
 * <b>What Java receives, it owns</b>:
 * <ul>
 *   <li>the root stays valid for as long as any Java reference to it exists —
 *       in a collection, a field, another thread — across calls and after
 *       Python dropped its proxy; the bridge never closes it behind Java's
 *       back;</li>
 *   <li>its memory goes back to Python when Java closes it (from Java, or
 *       from Python through the proxy: {@code root.close()}), or when the
 *       garbage collector finds it unreachable (a {@code Cleaner}, as for a
 *       direct {@code ByteBuffer}; a collection is requested when an arena
 *       fills up, and {@code client.gc()} in Python asks for one and waits).
 *       Close roots you are done with to give the memory back at once;</li>
 *   <li>its buffers are <b>read-only by contract</b> — do not write into them.
 *       This matters beyond the root itself: a large array that Python sends
 *       without a validity bitmap (no nulls) arrives with a slice of one
 *       bitmap of set bits that the session shares between such arrays, so
 *       {@code setNull} on one of them would change the others.</li>
 * </ul>
 * The buffers belong to {@link #allocator()}; a {@code TransferPair} to another
 * allocator keeps the memory alive as usual. With Arrow's debug allocator
 * ({@code -ea} or {@code -Darrow.memory.debug.allocator=true}) every
 * allocation stays reachable, so only {@code close()} gives memory back.
 *
 * <h2>Returning Arrow data to Python</h2>
 * A method called from Python (without {@code return_object_ref=True}) that
 * returns a {@code VectorSchemaRoot} or a {@code FieldVector} answers with the
 * data itself, and Python receives a pyarrow object. <b>Returning never
 * changes the JVM's data</b>: the root or vector is neither emptied nor
 * closed, Java keeps using it, and returning it again gives equal data.
 * <ul>
 *   <li>buffers that lie in shared memory are <b>shared</b> by reference count
 *       and referenced in place by Python, with no copy: buffers allocated by
 *       {@link #allocator()} (its JVM-wide arena) and buffers of data Python
 *       sent (forwarded back to Python's own memory). Java may close its
 *       vectors at any time; the memory stays until Python drops its last
 *       reference;</li>
 *   <li>every other buffer (another allocator's, or one that fell back to
 *       ordinary memory because the arena was full) is copied once.</li>
 * </ul>
 * The contract is the Arrow C Data interface's: <b>what Python received is
 * immutable</b>. Java code that writes into a vector after handing it out is
 * at fault (Python may see the change). A producer that wants to reuse its
 * vectors after returning them hands them off explicitly with
 * {@link #handOff(VectorSchemaRoot)}: the bridge takes their buffers at once
 * (the producer's vectors are left empty, ready to be refilled), and closes
 * its own root once Python has the data.
 * <pre>{@code
 * public static VectorSchemaRoot filterGreater(VectorSchemaRoot in, String column, long threshold) {
 *     VectorSchemaRoot out = VectorSchemaRoot.create(in.getSchema(), ArrowBridge.allocator());
 *     ... copy the matching rows ...
 *     return out; // shared with Python, no copy; out stays valid for Java until closed or unreachable
 * }
 * }</pre>
 * Build results with {@link #allocator()} (zero copy; any allocator works,
 * with one copy).
 *
 * <h2>Streams and dictionaries</h2>
 * A Python stream ({@code pyarrow.RecordBatchReader}) or data with
 * dictionary-encoded columns arrives as a {@link BridgeArrowReader}, an
 * {@link ArrowReader} that is also the dictionaries' {@code DictionaryProvider}.
 * A method returning an {@link ArrowReader} (any kind) gives Python a
 * {@code pyarrow.RecordBatchReader} that calls {@link #nextBatch} for each
 * batch; its dictionaries travel with each batch (copied). A reader is a
 * stream: Python reading it advances it. A {@code VectorSchemaRoot} with
 * dictionary-encoded columns cannot be returned on its own (it does not carry
 * its dictionaries): return the reader.
 *
 * <h2>Arena pressure</h2>
 * When Python's arena is above its high-water mark (three quarters full),
 * batches from Python are copied into {@link #allocator()}'s own memory on
 * arrival and the arena regions released at once ({@link #batchesCopiedOut()}),
 * so JVM code that keeps every batch cannot fill the arena.
 */
public final class ArrowBridge {
    private static final class Holder {
        static final RootAllocator ROOT = new RootAllocator(RootAllocator.configBuilder()
                .allocationManagerFactory(ArenaAllocationManager.FACTORY)
                .roundingPolicy(ArenaAllocationManager.ROUND_64)
                .maxAllocation(Long.MAX_VALUE)
                .build());
    }

    private ArrowBridge() {
    }

    /**
     * A loaded batch of an {@code ArrowReader}, returned to Python by value
     * with the dictionaries of its dictionary-encoded columns (what
     * {@link #nextBatch} returns). The root stays the reader's.
     *
     * @param root the reader's root
     * @param dictionaries the reader, as the provider of its dictionaries
     */
    public record ReaderBatch(VectorSchemaRoot root, DictionaryProvider dictionaries) {
    }

    /**
     * An Arrow value whose buffers the bridge took over ({@link #handOff}):
     * returned to Python, it crosses like any root, and the bridge closes it
     * once Python has the data.
     *
     * @param root the bridge's root holding the buffers
     * @param shape {@code "root"} or {@code "vector"}: what Python receives
     */
    public record HandedOff(VectorSchemaRoot root, String shape) {
    }

    /**
     * Hands a root's data off to Python with transfer semantics: its buffers
     * move at once ({@code TransferPair}) into a root of the bridge's, which
     * the returned value carries; {@code root} is left with empty vectors,
     * ready to be refilled. Return the result from a method called from Python;
     * the bridge closes its root once Python has the data.
     *
     * @param root a root whose vectors the producer will reuse
     * @return what to return to Python
     */
    public static HandedOff handOff(VectorSchemaRoot root) {
        List<FieldVector> moved = new ArrayList<>(root.getFieldVectors().size());
        try {
            for (FieldVector v : root.getFieldVectors()) {
                TransferPair tp = v.getTransferPair(v.getAllocator() != null ? v.getAllocator() : allocator());
                tp.transfer();
                moved.add((FieldVector) tp.getTo());
            }
        } catch (RuntimeException e) {
            for (FieldVector v : moved) {
                v.close();
            }
            throw e;
        }
        VectorSchemaRoot own = new VectorSchemaRoot(root.getSchema(), moved, root.getRowCount());
        root.setRowCount(0);
        return new HandedOff(own, "root");
    }

    /**
     * {@link #handOff(VectorSchemaRoot)} for one vector: Python receives a
     * {@code pyarrow.Array}; {@code vector} is left empty.
     *
     * @param vector a vector the producer will reuse
     * @return what to return to Python
     */
    public static HandedOff handOff(FieldVector vector) {
        TransferPair tp = vector.getTransferPair(vector.getAllocator() != null ? vector.getAllocator() : allocator());
        tp.transfer();
        return new HandedOff(VectorSchemaRoot.of((FieldVector) tp.getTo()), "vector");
    }

    /**
     * Runs a garbage collection and waits (at most {@code timeoutMillis})
     * until the Arrow memory of roots and vectors that became unreachable
     * without being closed has been given back (to Python's arena, or to the
     * bridge allocator's). Python's {@code client.gc()} calls this.
     *
     * @param timeoutMillis the longest wait
     * @return allocations given back during the call
     * @throws InterruptedException if interrupted while waiting
     */
    public static long reclaim(long timeoutMillis) throws InterruptedException {
        return Reclaimer.collect(timeoutMillis);
    }

    /**
     * Counts the allocations given back because their root or vector became
     * unreachable without being closed: a count that keeps growing means JVM
     * code leaves Arrow data for the garbage collector to close.
     *
     * @return allocations whose memory the garbage collector gave back (JVM-wide)
     */
    public static long reclaimedByGc() {
        return Reclaimer.reclaimed();
    }

    /**
     * Loads the reader's next batch for Python; a pyarrow
     * {@code RecordBatchReader} made from a returned Java {@code ArrowReader}
     * calls this for each batch.
     *
     * @param reader the reader
     * @return the batch (crossing by value), or null at the end of the stream
     * @throws IOException if the reader fails
     */
    public static ReaderBatch nextBatch(ArrowReader reader) throws IOException {
        if (!reader.loadNextBatch()) {
            return null;
        }
        return new ReaderBatch(reader.getVectorSchemaRoot(), reader);
    }

    /**
     * The bridge's allocator: every buffer received from Python belongs to it,
     * and buffers it allocates lie in shared memory, so results built with it
     * reach Python without a copy.
     *
     * <p>One per JVM, unlimited; never close it (child allocators are fine).
     * It is a {@code RootAllocator} built with the bridge's
     * {@code AllocationManager.Factory} and a 64-byte rounding policy: each
     * allocation is a block of a JVM-wide arena of Java-owned segments (files in
     * a private 0700 directory under {@code /dev/shm}, 64 MiB each, 1 GiB in
     * all by default: system properties {@code gatun.arrow.allocator.segmentBytes}
     * and {@code gatun.arrow.allocator.maxBytes}); when the arena is full it
     * falls back to ordinary native memory, which is copied once on export.
     * A session publishes an arena segment in its own segment directory only
     * when it first returns a buffer that lies in it.
     *
     * @return the allocator
     */
    public static BufferAllocator allocator() {
        return Holder.ROOT;
    }

    /**
     * Counts the batches from Python that this JVM copied into its own memory
     * and released at once, because Python's arena was more than three-quarters
     * full: the copies that keep JVM code holding many batches from filling
     * Python's arena.
     *
     * @return batches from Python this JVM copied into its own memory because
     *     Python's arena was above its high-water mark
     */
    public static long batchesCopiedOut() {
        return ArrowSession.COPIED_OUT.get();
    }

    /**
     * Export counters of this JVM, for tests and diagnostics.
     *
     * @return {@code {bytes copied on export, bytes handed over in place,
     *     regions described to Python and not yet released (all sessions),
     *     arena blocks in use, allocations that fell back to native memory}}
     */
    public static long[] exportStats() {
        return new long[] {
            ArrowExporter.BYTES_COPIED.get(),
            ArrowExporter.BYTES_IN_PLACE.get(),
            RegionLedger.liveRegionsInJvm(),
            Arena.get().blocksInUse(),
            ArenaAllocationManager.fallbacks(),
        };
    }

    /**
     * Counts the bytes of results that crossed to Python by one copy, because
     * their buffers were not in shared memory (built on another allocator than
     * {@link #allocator()}, or on its native fallback).
     *
     * @return bytes copied into Java-owned regions on export, JVM-wide
     */
    public static long bytesCopied() {
        return ArrowExporter.BYTES_COPIED.get();
    }

    /**
     * Counts the bytes of results that crossed to Python with no copy, because
     * they were built on {@link #allocator()}; set against {@link #bytesCopied()}
     * it tells whether JVM code builds its results where they cross for free.
     *
     * @return bytes of {@link #allocator()} memory handed to Python in place, JVM-wide
     */
    public static long bytesInPlace() {
        return ArrowExporter.BYTES_IN_PLACE.get();
    }

    /**
     * Counts the shared-memory regions Python holds: each stays allocated on
     * the Java side until Python's last reference to it is dropped, so a count
     * that only grows means Python keeps results alive.
     *
     * @return regions described to Python and not yet released, all sessions of this JVM
     */
    public static long liveRegions() {
        return RegionLedger.liveRegionsInJvm();
    }

    /**
     * Counts the blocks of {@link #allocator()}'s shared arena in use, held by
     * JVM code or by Python; once the arena is full, new allocations fall back
     * to native memory and are copied on export.
     *
     * @return blocks of the allocator's arena in use (allocated and not yet freed)
     */
    public static long arenaBlocksInUse() {
        return Arena.get().blocksInUse();
    }
}
