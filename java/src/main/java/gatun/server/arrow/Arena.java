package gatun.server.arrow;

import gatun.server.shm.ControlSegment;
import gatun.server.shm.Segment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The JVM-wide arena behind {@link ArrowBridge#allocator()}: Java-owned
 * shared-memory segments that JVM code builds Arrow vectors in, so that a result
 * can be handed to Python in place.
 *
 * <p><b>Why JVM-wide.</b> {@code ArrowBridge.allocator()} is static and JVM code
 * allocates on any thread, outside any request, so the allocator cannot know the
 * session its buffers will be returned to. Its segments therefore belong to the
 * JVM, not to a session: files with random 128-bit hex names, mode 0600, in one
 * private 0700 directory {@code gatun-java-<pid>-*} under {@code /dev/shm} (else
 * {@code java.io.tmpdir}), deleted at JVM exit (a shutdown hook) or, after a
 * crash, by the next JVM's sweep of dead pids' directories.
 *
 * <p><b>Publication.</b> A session learns of a segment only when it first exports
 * a buffer that lies in it ({@link RegionLedger#holdShared}): the session takes one
 * of its own directory entries 32..62 and a fresh session-local segment id, and
 * publishes a <i>hard link</i> to the segment file under a new random name.
 * Python maps that name and unlinks it (as it does for every Java file
 * segment); the original name stays for the next session; the session deletes a
 * link Python never mapped when it closes.
 *
 * <p><b>Allocation.</b> Segments of {@code gatun.arrow.allocator.segmentBytes}
 * (64 MiB default; one larger segment for a larger request, at most 1 GiB), up
 * to {@code gatun.arrow.allocator.maxBytes} in all (1 GiB default). Blocks are
 * carved first-fit from a free list per segment in 64-byte granules and
 * coalesced when freed. When the budget is used up, {@link #allocate} returns
 * null and the caller falls back to ordinary native memory (which is copied on
 * export).
 */
final class Arena {
    /** Granule and alignment of every block. */
    static final long GRANULE = gatun.server.shm.Layout.HANDLE_OFFSET_UNIT;

    private static final SecureRandom RANDOM = new SecureRandom();
    private static volatile Arena instance;

    /** One JVM-wide segment; immutable but for its free list (guarded by the arena). */
    static final class ArenaSegment {
        final int index;
        final Path path;
        final Segment mapping;
        final FreeList free;

        ArenaSegment(int index, Path path, Segment mapping) {
            this.index = index;
            this.path = path;
            this.mapping = mapping;
            this.free = new FreeList(mapping.size());
        }

        Path directory() {
            return path.getParent();
        }
    }

    /**
     * A block of a segment. It has one reference for the Arrow allocation over it
     * and one per session region describing it to Python; it goes back to the
     * free list when the last is dropped.
     */
    static final class Block {
        final ArenaSegment segment;
        final long offset;
        final long length;
        int refs = 1;
        boolean freed;

        Block(ArenaSegment segment, long offset, long length) {
            this.segment = segment;
            this.offset = offset;
            this.length = length;
        }

        long address() {
            return segment.mapping.address() + offset;
        }
    }

    private final long segmentSize;
    private final long maxBytes;
    private final List<ArenaSegment> segments = new ArrayList<>();
    private Path dir;
    private long mappedBytes;
    private long bytesInUse;
    private long blocksInUse;

    Arena(long segmentSize, long maxBytes) {
        this.segmentSize = Math.max(GRANULE, round(segmentSize));
        this.maxBytes = maxBytes;
    }

    /** @return the JVM's arena, created on first use */
    static Arena get() {
        Arena a = instance;
        if (a == null) {
            synchronized (Arena.class) {
                a = instance;
                if (a == null) {
                    a = new Arena(Long.getLong("gatun.arrow.allocator.segmentBytes", 64L << 20),
                            Long.getLong("gatun.arrow.allocator.maxBytes", 1L << 30));
                    Arena hooked = a;
                    Runtime.getRuntime().addShutdownHook(new Thread(hooked::deleteFiles, "gatun-arena-cleanup"));
                    instance = a;
                }
            }
        }
        return a;
    }

    static long round(long n) {
        return (n + GRANULE - 1) / GRANULE * GRANULE;
    }

    /**
     * Carves a block of at least {@code bytes}.
     *
     * @param bytes wanted bytes (&gt; 0)
     * @return the block, or null when the arena's budget is used up (or a segment cannot be created)
     */
    synchronized Block allocate(long bytes) {
        if (bytes <= 0 || bytes > ControlSegment.MAX_SEGMENT_SIZE) {
            return null;
        }
        long want = round(bytes);
        for (ArenaSegment s : segments) {
            Block b = carve(s, want);
            if (b != null) {
                return b;
            }
        }
        long size = Math.max(segmentSize, want);
        if (mappedBytes + size > maxBytes) {
            return null;
        }
        ArenaSegment s;
        try {
            s = newSegment(size);
        } catch (IOException | RuntimeException e) {
            return null; // e.g. /dev/shm is full: native memory instead
        }
        return carve(s, want);
    }

    private Block carve(ArenaSegment s, long want) {
        long off = s.free.take(want);
        if (off < 0) {
            return null;
        }
        bytesInUse += want;
        blocksInUse++;
        return new Block(s, off, want);
    }

    private ArenaSegment newSegment(long size) throws IOException {
        Path path = directory().resolve(randomName());
        Segment m = Segment.create(path, size);
        ArenaSegment s = new ArenaSegment(segments.size(), path, m);
        segments.add(s);
        mappedBytes += size;
        return s;
    }

    static String randomName() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private Path directory() throws IOException {
        if (dir == null) {
            dir = RegionLedger.createPrivateDirectory();
        }
        return dir;
    }

    /**
     * Adds a reference to a live block.
     *
     * @param b the block
     */
    synchronized void retain(Block b) {
        if (b.freed) {
            throw new IllegalStateException("block already freed");
        }
        b.refs++;
    }

    /**
     * Drops one reference; the last gives the block back (coalescing with its
     * free neighbours).
     *
     * @param b the block
     */
    synchronized void free(Block b) {
        if (b.freed || --b.refs > 0) {
            return;
        }
        b.freed = true;
        bytesInUse -= b.length;
        blocksInUse--;
        b.segment.free.give(b.offset, b.length);
    }

    /** @return bytes in live blocks */
    synchronized long bytesInUse() {
        return bytesInUse;
    }

    /**
     * @return whether more than three quarters of the budget is in use: Python
     *         is then asked to copy what it receives and release it at once, so
     *         data it keeps cannot push the JVM's allocations out of the arena
     */
    synchronized boolean aboveHighWater() {
        return bytesInUse > maxBytes / 4 * 3;
    }

    /** @return live blocks */
    synchronized long blocksInUse() {
        return blocksInUse;
    }

    /** @return segments created */
    synchronized int segmentCount() {
        return segments.size();
    }

    /** Deletes the segment files and the directory (mappings stay valid until unmapped). */
    synchronized void deleteFiles() {
        for (ArenaSegment s : segments) {
            try {
                Files.deleteIfExists(s.path);
            } catch (IOException e) {
                // best effort
            }
        }
        if (dir != null) {
            try (java.util.stream.Stream<Path> rest = Files.list(dir)) {
                for (Path p : (Iterable<Path>) rest::iterator) {
                    Files.deleteIfExists(p); // links no session got to delete
                }
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                // best effort
            }
        }
    }
}
