package gatun.server.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.flatbuffers.FlatBufferBuilder;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.BufferLedger;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The bridge allocator's arena allocation manager and the in-place export path. */
class ArenaAllocationManagerTest {
    private Arena arena;
    private BufferAllocator allocator;

    @BeforeEach
    void setUp() {
        arena = new Arena(1 << 20, 2 << 20); // two 1 MiB segments at most
        allocator = new RootAllocator(RootAllocator.configBuilder()
                .allocationManagerFactory(ArenaAllocationManager.factory(arena))
                .roundingPolicy(ArenaAllocationManager.ROUND_64)
                .maxAllocation(Long.MAX_VALUE)
                .build());
    }

    @AfterEach
    void tearDown() {
        allocator.close();
        arena.deleteFiles();
    }

    private static ArenaAllocationManager manager(ArrowBuf b) {
        return (ArenaAllocationManager) ((BufferLedger) b.getReferenceManager()).getAllocationManager();
    }

    @Test
    void allocatesAlignedBlocksInTheArena() {
        try (ArrowBuf a = allocator.buffer(10); ArrowBuf b = allocator.buffer(100)) {
            assertNotNull(manager(a).block());
            assertNotNull(manager(b).block());
            assertEquals(0, a.memoryAddress() % 64);
            assertEquals(0, b.memoryAddress() % 64);
            assertEquals(64, a.capacity()); // the 64-byte rounding policy
            assertEquals(128, b.capacity());
            assertEquals(2, arena.blocksInUse());
            assertEquals(64 + 128, arena.bytesInUse());
            a.setLong(0, 42);
            assertEquals(42, a.getLong(0));
        }
        assertEquals(0, arena.blocksInUse());
        assertEquals(0, arena.bytesInUse());
    }

    @Test
    void releaseFreesTheBlockForReuse() {
        long first;
        try (ArrowBuf a = allocator.buffer(4096)) {
            first = a.memoryAddress();
        }
        assertEquals(0, arena.blocksInUse());
        try (ArrowBuf a = allocator.buffer(4096)) {
            assertEquals(first, a.memoryAddress()); // first fit: the same block again
        }
    }

    @Test
    void fallsBackToNativeMemoryWhenFull() {
        long before = ArenaAllocationManager.fallbacks();
        try (ArrowBuf a = allocator.buffer(1 << 20); ArrowBuf b = allocator.buffer(1 << 20);
             ArrowBuf c = allocator.buffer(1 << 20)) {
            assertNotNull(manager(a).block());
            assertNotNull(manager(b).block());
            assertNull(manager(c).block()); // budget of 2 MiB used up
            assertEquals(before + 1, ArenaAllocationManager.fallbacks());
            c.setLong(8, 7);
            assertEquals(7, c.getLong(8));
            assertEquals(2, arena.segmentCount());
        }
        assertEquals(0, arena.blocksInUse());
    }

    @Test
    void vectorsBuiltOnTheArenaWork() {
        try (BigIntVector v = new BigIntVector("x", allocator)) {
            v.allocateNew(1000);
            for (int i = 0; i < 1000; i++) {
                v.set(i, i * 3L);
            }
            v.setValueCount(1000);
            assertEquals(2997, v.get(999));
            assertNotNull(manager(v.getDataBuffer()).block());
        }
        assertEquals(0, arena.blocksInUse());
    }

    @Test
    void exportSharesArenaBuffersAndPythonsReleaseFreesThem() {
        // The exporter works on the bridge's own allocator (the JVM-wide arena).
        BufferAllocator bridge = ArrowBridge.allocator();
        RegionLedger session = new RegionLedger(null, 1 << 20);
        ArrowExporter exporter = new ArrowExporter(session, new SchemaRegistry(), am -> null);
        long blocksBefore = Arena.get().blocksInUse();
        long copiedBefore = ArrowExporter.BYTES_COPIED.get();
        long inPlaceBefore = ArrowExporter.BYTES_IN_PLACE.get();
        BigIntVector v = new BigIntVector("x", bridge);
        try {
            v.allocateNew(100);
            for (int i = 0; i < 100; i++) {
                v.set(i, i);
            }
            v.setNull(5);
            v.setValueCount(100);
            VectorSchemaRoot root = VectorSchemaRoot.of(v);
            long dataAddress = v.getDataBuffer().memoryAddress();
            exporter.encode(new FlatBufferBuilder(), root);
            // Shared, not transferred: the user's vector is as it was.
            assertEquals(100, v.getValueCount());
            assertEquals(dataAddress, v.getDataBuffer().memoryAddress());
            assertEquals(99, v.get(99));
            assertEquals(1, session.liveRegions());
            assertEquals(0, ArrowExporter.BYTES_COPIED.get() - copiedBefore);
            assertEquals(800 + 13, ArrowExporter.BYTES_IN_PLACE.get() - inPlaceBefore);
            // Returned again: another region over the same memory, still no copy.
            exporter.encode(new FlatBufferBuilder(), root);
            assertEquals(100, v.getValueCount());
            assertEquals(2, session.liveRegions());
            assertEquals(0, ArrowExporter.BYTES_COPIED.get() - copiedBefore);
            // Java closes its vector: Python's holds keep the memory.
            v.close();
            assertTrue(Arena.get().blocksInUse() > blocksBefore);
            // Python's Releases free the regions and then the arena block.
            for (long handle : session.liveHandles()) {
                assertTrue(session.peerReleased(handle, 1));
                assertTrue(!session.peerReleased(handle, 1)); // a second one is stale
            }
            assertEquals(0, session.liveRegions());
            assertEquals(blocksBefore, Arena.get().blocksInUse());
        } finally {
            v.close();
            session.close();
        }
    }

    @Test
    void handOffTakesTheBuffersAndLeavesTheProducersVectorEmpty() {
        RegionLedger session = new RegionLedger(null, 1 << 20);
        ArrowExporter exporter = new ArrowExporter(session, new SchemaRegistry(), am -> null);
        long blocksBefore = Arena.get().blocksInUse();
        BigIntVector v = new BigIntVector("x", ArrowBridge.allocator());
        try {
            v.allocateNew(10);
            for (int i = 0; i < 10; i++) {
                v.set(i, i);
            }
            v.setValueCount(10);
            VectorSchemaRoot root = VectorSchemaRoot.of(v);
            ArrowBridge.HandedOff off = ArrowBridge.handOff(root);
            assertEquals(0, v.getValueCount(), "the producer's vector is empty, ready for reuse");
            exporter.encode(new FlatBufferBuilder(), off);
            assertEquals(0, off.root().getFieldVectors().get(0).getValueCount(), "the bridge closed its root");
            assertEquals(1, session.liveRegions());
            assertTrue(Arena.get().blocksInUse() > blocksBefore, "held for Python");
            assertTrue(session.peerReleased(onlyHandle(session), 1));
            assertEquals(blocksBefore, Arena.get().blocksInUse());
        } finally {
            v.close();
            session.close();
        }
    }

    @Test
    void anUnreachableUnclosedVectorGivesItsArenaBlockBack() throws Exception {
        long blocksBefore = Arena.get().blocksInUse();
        allocateAndDrop();
        assertTrue(Arena.get().blocksInUse() > blocksBefore);
        long reclaimed = ArrowBridge.reclaim(5_000);
        assertTrue(reclaimed >= 1, "the collector gave the block back");
        assertTrue(Arena.get().blocksInUse() <= blocksBefore);
    }

    /** Leaves a vector on the bridge allocator unreachable without closing it. */
    private static void allocateAndDrop() {
        BigIntVector v = new BigIntVector("x", ArrowBridge.allocator());
        v.allocateNew(1000);
        v.setValueCount(1000);
    }

    @Test
    void otherAllocatorsAreCopiedAndLeftAlone() {
        RegionLedger session = new RegionLedger(null, 1 << 20);
        ArrowExporter exporter = new ArrowExporter(session, new SchemaRegistry(), am -> null);
        long copiedBefore = ArrowExporter.BYTES_COPIED.get();
        try (RootAllocator plain = new RootAllocator(Long.MAX_VALUE);
             BigIntVector v = new BigIntVector("x", plain)) {
            v.allocateNew(10);
            for (int i = 0; i < 10; i++) {
                v.set(i, i);
            }
            v.setValueCount(10);
            exporter.encode(new FlatBufferBuilder(), VectorSchemaRoot.of(v));
            assertEquals(10, v.getValueCount()); // not transferred
            assertTrue(ArrowExporter.BYTES_COPIED.get() - copiedBefore >= 80);
            assertEquals(1, session.liveRegions());
        } finally {
            session.close();
        }
    }

    @Test
    void closingTheSessionDropsTheBridgesReferences() {
        RegionLedger session = new RegionLedger(null, 1 << 20);
        ArrowExporter exporter = new ArrowExporter(session, new SchemaRegistry(), am -> null);
        long blocksBefore = Arena.get().blocksInUse();
        BigIntVector v = new BigIntVector("x", ArrowBridge.allocator());
        v.allocateNew(10);
        v.setValueCount(10);
        exporter.encode(new FlatBufferBuilder(), VectorSchemaRoot.of(v));
        v.close();
        assertTrue(Arena.get().blocksInUse() > blocksBefore);
        session.close();
        assertEquals(blocksBefore, Arena.get().blocksInUse());
    }

    private static long onlyHandle(RegionLedger a) {
        List<Long> handles = a.liveHandles();
        assertEquals(1, handles.size());
        return handles.get(0);
    }
}
