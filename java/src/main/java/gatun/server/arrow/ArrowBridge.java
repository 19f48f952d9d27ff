package gatun.server.arrow;

import org.apache.arrow.memory.BufferAllocator;
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
 *   <li>they are <b>read-only by contract</b> — do not write into them;</li>
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
 * data itself: its buffers are copied once into a Java-owned arena segment and
 * Python receives a pyarrow object that references that copy. Ownership:
 * <ul>
 *   <li>a returned {@code VectorSchemaRoot} is <b>handed over</b> to the bridge,
 *       which closes it after the copy — unless Python holds a reference to that
 *       very root (it was registered in the session, e.g. one Python sent), in
 *       which case it is left open;</li>
 *   <li>a returned {@code FieldVector} is never closed (it usually belongs to a
 *       root).</li>
 * </ul>
 * Build results with {@link #allocator()} (or any allocator), e.g.
 * <pre>{@code
 * public static VectorSchemaRoot filterGreater(VectorSchemaRoot in, String column, long threshold) {
 *     VectorSchemaRoot out = VectorSchemaRoot.create(in.getSchema(), ArrowBridge.allocator());
 *     ... copy the matching rows ...
 *     return out; // the bridge copies it to Python and closes it
 * }
 * }</pre>
 * Dictionary-encoded columns are not supported in either direction yet.
 */
public final class ArrowBridge {
    private static final class Holder {
        static final RootAllocator ROOT = new RootAllocator(Long.MAX_VALUE);
    }

    private ArrowBridge() {
    }

    /**
     * The bridge's allocator: every buffer received from Python belongs to it.
     * One per JVM, unlimited; never close it.
     *
     * @return the allocator
     */
    public static BufferAllocator allocator() {
        return Holder.ROOT;
    }
}
