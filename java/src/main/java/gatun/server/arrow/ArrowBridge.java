package gatun.server.arrow;

import java.io.IOException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.memory.RootAllocator;

/**
 * The Arrow side of the gatun bridge, as JVM code sees it.
 *
 * <h2>Receiving Arrow data from Python</h2>
 * {@code client.send_arrow(table)} in Python moves each batch into the shared
 * payload arena and hands Java a {@link org.apache.arrow.vector.VectorSchemaRoot}
 * registered as an ordinary object: Python gets a proxy for it and passes that
 * proxy to any method, e.g.
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
 * The root's buffers are Python's arena memory, referenced in place (no copy):
 * <ul>
 *   <li>they are <b>read-only by contract</b> — do not write into them. This
 *       matters beyond the root itself: a large array that Python sends
 *       without a validity bitmap (no nulls) arrives with a slice of one
 *       bitmap of set bits that the session shares between such arrays, so
 *       {@code setNull} on one of them would change the others;</li>
 *   <li>they stay valid for as long as the root (or any vector or buffer taken
 *       from it, or transferred out of it) is open;</li>
 *   <li>closing the root — from Java, or from Python through the proxy
 *       ({@code root.close()}) — gives the memory back to Python; so does the
 *       end of the session, which closes every Arrow object still registered.</li>
 * </ul>
 * The buffers belong to {@link #allocator()}; a {@code TransferPair} to another
 * allocator keeps the memory alive as usual.
 *
 * <h2>Returning Arrow data to Python</h2>
 * A method called from Python (without {@code return_object_ref=True}) that
 * returns a {@code VectorSchemaRoot} or a {@code FieldVector} answers with the
 * data itself, and Python receives a pyarrow object over Java-owned shared
 * memory:
 * <ul>
 *   <li>buffers allocated by {@link #allocator()} already lie in shared memory
 *       (its JVM-wide arena): the vectors are <b>transferred</b>
 *       ({@code TransferPair}) out of the returned root or vector — which is
 *       left <b>empty</b> — and Python references their memory in place, with
 *       no copy. Nothing Java does later with the returned vectors can change
 *       data Python holds; the memory goes back to the arena when Python drops
 *       its last reference;</li>
 *   <li>every other buffer (another allocator's, Python's, or one that fell
 *       back to ordinary memory because the arena was full) is copied once
 *       into a Java-owned segment, and the returned vectors are left as they
 *       were.</li>
 * </ul>
 * Ownership:
 * <ul>
 *   <li>a returned {@code VectorSchemaRoot} is <b>handed over</b> to the bridge,
 *       which closes it after the copy — unless Python holds a reference to that
 *       very root (it was registered in the session, e.g. one Python sent), in
 *       which case it is left open;</li>
 *   <li>a returned {@code FieldVector} is never closed (it usually belongs to a
 *       root).</li>
 * </ul>
 * Build results with {@link #allocator()} (zero copy; any allocator works, with one copy), e.g.
 * <pre>{@code
 * public static VectorSchemaRoot filterGreater(VectorSchemaRoot in, String column, long threshold) {
 *     VectorSchemaRoot out = VectorSchemaRoot.create(in.getSchema(), ArrowBridge.allocator());
 *     ... copy the matching rows ...
 *     return out; // the bridge copies it to Python and closes it
 * }
 * }</pre>
 *
 * <h2>Streams and dictionaries</h2>
 * A Python stream ({@code pyarrow.RecordBatchReader}) or data with
 * dictionary-encoded columns arrives as a {@link BridgeArrowReader}, an
 * {@link ArrowReader} that is also the dictionaries' {@code DictionaryProvider}.
 * A method returning an {@link ArrowReader} (any kind) gives Python a
 * {@code pyarrow.RecordBatchReader} that calls {@link #nextBatch} for each
 * batch; its dictionaries travel with each batch. Python owns a returned
 * reader: it is closed when Python drops it. A {@code VectorSchemaRoot} with
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
            JavaArena.liveRegionsInJvm(),
            SharedArena.get().blocksInUse(),
            ArenaAllocationManager.fallbacks(),
        };
    }

    /** @return bytes copied into Java-owned regions on export, JVM-wide */
    public static long bytesCopied() {
        return ArrowExporter.BYTES_COPIED.get();
    }

    /** @return bytes of {@link #allocator()} memory handed to Python in place, JVM-wide */
    public static long bytesInPlace() {
        return ArrowExporter.BYTES_IN_PLACE.get();
    }

    /** @return regions described to Python and not yet released, all sessions of this JVM */
    public static long liveRegions() {
        return JavaArena.liveRegionsInJvm();
    }

    /** @return blocks of the allocator's arena in use (allocated and not yet freed) */
    public static long arenaBlocksInUse() {
        return SharedArena.get().blocksInUse();
    }
}
