package gatun.server.arrow;

import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ReferenceManager;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * Arrow memory from plain native memory ({@code malloc}/{@code free} through
 * Arrow's {@code MemoryUtil}), for the bridge's own allocators that never
 * reach Python: the Arrow warm-up and the arena's fallback.
 *
 * <p><b>Why not Arrow's {@code UnsafeAllocationManager}:</b> the server runs
 * inside other people's JVMs on their Arrow Java, and Spark ships only
 * {@code arrow-memory-netty}; {@code arrow-memory-unsafe} stays in the jar for
 * launched JVMs whose user code calls {@code new RootAllocator()}, but the
 * bridge's classes never name it ({@code JarContentsTest} checks).
 */
final class NativeAllocationManager extends AllocationManager {
    /** An empty buffer that owns nothing: Arrow hands it out for zero-byte requests. */
    private static final ArrowBuf EMPTY = new ArrowBuf(ReferenceManager.NO_OP, null, 0,
            MemoryUtil.allocateMemory(0));

    /** Allocates each request with {@code malloc}. */
    static final Factory FACTORY = new Factory() {
        @Override
        public AllocationManager create(BufferAllocator accountingAllocator, long size) {
            return new NativeAllocationManager(accountingAllocator, size);
        }

        @Override
        public ArrowBuf empty() {
            return EMPTY;
        }
    };

    private final long address;
    private final long size;

    private NativeAllocationManager(BufferAllocator accountingAllocator, long size) {
        super(accountingAllocator);
        this.address = MemoryUtil.allocateMemory(size);
        this.size = size;
    }

    @Override
    public long getSize() {
        return size;
    }

    @Override
    protected long memoryAddress() {
        return address;
    }

    @Override
    protected void release0() {
        MemoryUtil.freeMemory(address);
    }
}
