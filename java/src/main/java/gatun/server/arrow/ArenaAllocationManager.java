package gatun.server.arrow;

import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.rounding.RoundingPolicy;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * The allocation manager of {@link ArrowBridge#allocator()}: memory comes from
 * a block of the JVM-wide {@link Arena} (Java-owned shared memory Python
 * can map), or — when the arena is full — from ordinary native memory
 * ({@code malloc}). Buffers in the arena are handed to Python in place on
 * export; the others are copied once.
 */
final class ArenaAllocationManager extends AllocationManager {
    /** The factory of the bridge's root allocator. */
    static final Factory FACTORY = factory(null);

    /**
     * @param arena the arena to carve from; null: the JVM's ({@link Arena#get()}, created on first use)
     * @return a factory
     */
    static Factory factory(Arena arena) {
        return new Factory() {
            @Override
            public AllocationManager create(BufferAllocator accountingAllocator, long size) {
                return new ArenaAllocationManager(accountingAllocator, size,
                        arena != null ? arena : Arena.get());
            }

            @Override
            public ArrowBuf empty() {
                return NativeAllocationManager.FACTORY.empty();
            }
        };
    }

    /** Rounds every request up to a multiple of 64 bytes (the arena's granule). */
    static final RoundingPolicy ROUND_64 = requestSize -> Arena.round(requestSize);

    private static final AtomicLong FALLBACKS = new AtomicLong();

    private final Arena arena;
    private final Arena.Block block; // null: native memory
    private final long address;
    private final long size;
    /** Frees the memory once: on release, or when the collector finds this unreachable. */
    private final java.lang.ref.Cleaner.Cleanable free;

    ArenaAllocationManager(BufferAllocator accountingAllocator, long size, Arena arena) {
        super(accountingAllocator);
        this.arena = arena;
        Arena.Block b = size > 0 ? arena.allocate(size) : null;
        this.block = b;
        if (b != null) {
            this.address = b.address();
            this.size = size;
        } else {
            if (size > 0) {
                FALLBACKS.incrementAndGet();
            }
            this.address = MemoryUtil.allocateMemory(size);
            this.size = size;
        }
        if (b == null && size > 0 || arena.aboveHighWater()) {
            Reclaimer.nudge(); // memory of unreachable, unclosed vectors may be waiting for a collection
        }
        this.free = Reclaimer.register(this, new Free(arena, b, address));
    }

    /** Gives the memory back; refers to nothing that keeps the manager reachable. */
    private record Free(Arena arena, Arena.Block block, long address) implements Runnable {
        @Override
        public void run() {
            if (block != null) {
                arena.free(block);
            } else {
                MemoryUtil.freeMemory(address);
            }
        }
    }

    /** @return the arena block, or null when the memory is ordinary native memory */
    Arena.Block block() {
        return block;
    }

    /** @return the arena the block belongs to */
    Arena arena() {
        return arena;
    }

    /** @return allocations that fell back to native memory (JVM-wide) */
    static long fallbacks() {
        return FALLBACKS.get();
    }

    @Override
    public long getSize() {
        return size;
    }

    @Override
    protected long memoryAddress() {
        return address;
    }

    /** @return the base address (for offsets of buffers inside this allocation) */
    long address() {
        return address;
    }

    @Override
    protected void release0() {
        free.clean();
    }
}
