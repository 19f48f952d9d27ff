package gatun.server.arrow;

import gatun.server.shm.ControlSegment;
import gatun.server.shm.Layout;
import gatun.server.shm.RegionHandle;
import gatun.server.shm.ReleaseRing;
import gatun.server.shm.Segment;
import gatun.server.shm.SegmentDirectory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The payload segments Java owns (Java -&gt; Python data), with a private
 * allocator and ledger.
 *
 * <p>Segments are files with a random 128-bit hex name, mode 0600, in a private
 * 0700 directory under {@code /dev/shm} (else {@code java.io.tmpdir}), 64 MiB
 * each (bigger for one large request, at most 1 GiB), segment ids from
 * {@code 0x8000}, announced in directory entries 32..62 with {@code memfd = -1}
 * and the absolute path as name. Python maps a file by path and unlinks it;
 * {@link #close()} deletes whatever is left.
 *
 * <p>Allocation is first fit over a free list per segment in 64-byte granules.
 * A region is described by its {@link RegionHandle}; its
 * ledger counts {@code peer_holds}, the descriptors Python received and has not
 * released. A region is freed when that count reaches zero. Notices with an
 * unknown or stale handle are ignored.
 */
public final class RegionLedger {
    /** Allocation granule and alignment. */
    public static final long GRANULE = Layout.HANDLE_OFFSET_UNIT;
    /** Default segment size. */
    public static final long SEGMENT_SIZE = 64L << 20;
    /** First Java segment id. */
    public static final int FIRST_SEGMENT_ID = Layout.JAVA_FIRST_SEGMENT_ID;
    /** Most Java segments (directory entries 32..62). */
    public static final int MAX_SEGMENTS = SegmentDirectory.ENTRIES - SegmentDirectory.PYTHON_ENTRIES;

    private static final SecureRandom RANDOM = new SecureRandom();

    private final ControlSegment seg;
    private final long segmentSize;
    private final List<OwnedSegment> segments = new ArrayList<>();
    private final Map<Long, Region> live = new HashMap<>();
    /** Shared (JVM-wide) segments published in this session, by identity. */
    private final Map<Arena.ArenaSegment, OwnedSegment> sharedSegments = new java.util.IdentityHashMap<>();
    /** Live regions of every session of the JVM (for tests and diagnostics). */
    private static final java.util.concurrent.atomic.AtomicLong LIVE_REGIONS =
            new java.util.concurrent.atomic.AtomicLong();
    private Path dir;
    private int generation;
    private long bytesInUse;
    private boolean closed;

    /** One Java-owned segment. */
    static final class OwnedSegment {
        final int id;
        final int entry;
        final Segment mapping;
        /** Free blocks: offset -&gt; length (always empty for a shared segment). */
        final FreeList free;
        /** The JVM-wide segment this entry publishes, or null for one of the session's own. */
        final Arena.ArenaSegment shared;
        /** The hard link published for a shared segment (Python unlinks it once mapped). */
        final Path link;

        OwnedSegment(int id, int entry, Segment mapping) {
            this.id = id;
            this.entry = entry;
            this.mapping = mapping;
            this.shared = null;
            this.link = null;
            this.free = new FreeList(mapping.size());
        }

        OwnedSegment(int id, int entry, Arena.ArenaSegment shared, Path link) {
            this.id = id;
            this.entry = entry;
            this.mapping = shared.mapping;
            this.shared = shared;
            this.link = link;
            this.free = new FreeList();
        }
    }

    /** A live region of a Java segment and its ledger. */
    public static final class Region {
        final OwnedSegment segment;
        final long offset;
        final long length;
        final long handle;
        long peerHolds;
        boolean freed;
        /** For a region of a shared segment: drops the bridge's reference to the memory. */
        Runnable onFree;

        Region(OwnedSegment segment, long offset, long length, long handle) {
            this.segment = segment;
            this.offset = offset;
            this.length = length;
            this.handle = handle;
        }

        /** @return the RegionHandle */
        public long handle() {
            return handle;
        }

        /** @return segment id */
        public int segmentId() {
            return segment.id;
        }

        /** @return offset in the segment */
        public long offset() {
            return offset;
        }

        /** @return bytes */
        public long length() {
            return length;
        }

        /** @return the segment's base address plus the region's offset */
        public long address() {
            return segment.mapping.address() + offset;
        }

        /** @return the mapping the region lies in */
        public Segment mapping() {
            return segment.mapping;
        }
    }

    /** @param seg the control segment (directory and Python -&gt; Java ring); null in unit tests */
    public RegionLedger(ControlSegment seg) {
        this(seg, SEGMENT_SIZE);
    }

    /**
     * @param seg the control segment, or null
     * @param segmentSize bytes per ordinary segment (a multiple of 64)
     */
    public RegionLedger(ControlSegment seg, long segmentSize) {
        this.seg = seg;
        this.segmentSize = segmentSize;
    }

    /**
     * Allocates a region of at least {@code bytes} (rounded up to 64) with no
     * holds yet.
     *
     * @param bytes wanted bytes
     * @return the region
     * @throws IOException if a new segment cannot be created
     */
    public synchronized Region allocate(long bytes) throws IOException {
        if (closed) {
            throw new IllegalStateException("the session's arena is closed");
        }
        if (bytes < 0 || bytes > ControlSegment.MAX_SEGMENT_SIZE) {
            throw new IllegalArgumentException("a region of " + bytes + " bytes exceeds the largest segment ("
                    + ControlSegment.MAX_SEGMENT_SIZE + " bytes); return smaller batches");
        }
        long want = Math.max(GRANULE, (bytes + GRANULE - 1) / GRANULE * GRANULE);
        for (OwnedSegment s : segments) {
            Region r = carve(s, want);
            if (r != null) {
                return r;
            }
        }
        OwnedSegment s = newSegment(Math.max(segmentSize, want));
        return carve(s, want);
    }

    private Region carve(OwnedSegment s, long want) {
        long off = s.free.take(want);
        if (off < 0) {
            return null;
        }
        generation = generation % (int) Layout.HANDLE_GENERATION_MASK + 1; // 1..2^24-1
        Region r = new Region(s, off, want, RegionHandle.pack(s.id, off, generation));
        live.put(r.handle, r);
        LIVE_REGIONS.incrementAndGet();
        bytesInUse += want;
        return r;
    }

    private OwnedSegment newSegment(long size) throws IOException {
        if (segments.size() >= MAX_SEGMENTS) {
            throw new IOException("the Java payload arena has all " + MAX_SEGMENTS
                    + " segments in use; release Arrow data in Python");
        }
        int index = segments.size();
        int id = FIRST_SEGMENT_ID + index;
        Path path = directory().resolve(HexFormat.of().formatHex(randomBytes()));
        checkName(path);
        String name = path.toAbsolutePath().toString();
        Segment m = Segment.create(path, size);
        OwnedSegment s = new OwnedSegment(id, SegmentDirectory.PYTHON_ENTRIES + index, m);
        segments.add(s);
        if (seg != null) {
            seg.directory().publish(s.entry, id, Layout.OWNER_JAVA, Layout.KIND_PAYLOAD, 1, size, -1, name);
        }
        return s;
    }

    private static void checkName(Path path) throws IOException {
        String name = path.toAbsolutePath().toString();
        if (name.getBytes(StandardCharsets.UTF_8).length >= SegmentDirectory.NAME_SIZE) {
            throw new IOException("segment path " + name + " is longer than " + (SegmentDirectory.NAME_SIZE - 1)
                    + " bytes");
        }
    }

    /**
     * Describes a block of the JVM-wide arena to this session as a live region
     * with no holds yet: publishes its segment first (once per session: a new
     * directory entry and session-local id, naming a fresh hard link to the
     * segment file). When the region is freed (every descriptor released, or
     * the arena closed), {@code onFree} runs once, under this arena's lock.
     *
     * @param block a live block
     * @param offset offset of the region in the block's segment (a multiple of 64)
     * @param length bytes of the region
     * @param onFree drops the bridge's reference to the memory
     * @return the region, or null when this session has no directory entry left
     *     (the caller copies instead)
     * @throws IOException if the link cannot be created
     */
    public synchronized Region holdShared(Arena.Block block, long offset, long length, Runnable onFree)
            throws IOException {
        if (closed) {
            throw new IllegalStateException("the session's arena is closed");
        }
        OwnedSegment s = sharedSegments.get(block.segment);
        if (s == null) {
            if (segments.size() >= MAX_SEGMENTS) {
                return null;
            }
            int index = segments.size();
            int id = FIRST_SEGMENT_ID + index;
            // Same directory as the segment: a hard link cannot cross file systems.
            Path link = block.segment.directory().resolve(Arena.randomName());
            checkName(link);
            Files.createLink(link, block.segment.path);
            s = new OwnedSegment(id, SegmentDirectory.PYTHON_ENTRIES + index, block.segment, link);
            segments.add(s);
            sharedSegments.put(block.segment, s);
            if (seg != null) {
                seg.directory().publish(s.entry, id, Layout.OWNER_JAVA, Layout.KIND_PAYLOAD, 1, s.mapping.size(), -1,
                        link.toAbsolutePath().toString());
            }
        }
        generation = generation % (int) Layout.HANDLE_GENERATION_MASK + 1;
        Region r = new Region(s, offset, length, RegionHandle.pack(s.id, offset, generation));
        r.onFree = onFree;
        live.put(r.handle, r);
        LIVE_REGIONS.incrementAndGet();
        return r;
    }

    /** @return live regions of every session in the JVM */
    public static long liveRegionsInJvm() {
        return LIVE_REGIONS.get();
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return b;
    }

    private Path directory() throws IOException {
        if (dir == null) {
            dir = createPrivateDirectory();
        }
        return dir;
    }

    /**
     * Creates a private (0700) directory for segment files under {@code /dev/shm}
     * (else {@code java.io.tmpdir}), sweeping those of dead JVMs first.
     *
     * @return the new directory
     * @throws IOException if it cannot be created
     */
    static Path createPrivateDirectory() throws IOException {
        Path base = Path.of("/dev/shm");
        if (!Files.isDirectory(base) || !Files.isWritable(base)) {
            base = Path.of(System.getProperty("java.io.tmpdir"));
        }
        sweep(base);
        return Files.createTempDirectory(base, DIR_PREFIX + ProcessHandle.current().pid() + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    private static final String DIR_PREFIX = "gatun-java-";

    /** Removes segment directories (and files) left behind by JVMs that are gone (e.g. killed). */
    static void sweep(Path base) {
        try (java.util.stream.Stream<Path> entries = Files.list(base)) {
            for (Path d : (Iterable<Path>) entries::iterator) {
                String n = d.getFileName().toString();
                if (!n.startsWith(DIR_PREFIX)) {
                    continue;
                }
                String rest = n.substring(DIR_PREFIX.length());
                int dash = rest.indexOf('-');
                long pid;
                try {
                    pid = Long.parseLong(dash < 0 ? rest : rest.substring(0, dash));
                } catch (NumberFormatException e) {
                    continue;
                }
                if (dash < 0 || ProcessHandle.of(pid).isPresent() || !Files.isDirectory(d,
                        java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                try (java.util.stream.Stream<Path> files = Files.list(d)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        Files.deleteIfExists(f);
                    }
                    Files.deleteIfExists(d);
                } catch (IOException | RuntimeException e) {
                    // another user's or a racing sweep: leave it
                }
            }
        } catch (IOException | RuntimeException e) {
            // best effort
        }
    }

    /**
     * Counts one descriptor of {@code r} sent to Python.
     *
     * @param r a live region
     */
    public synchronized void addPeerHold(Region r) {
        r.peerHolds++;
    }

    /**
     * Applies {@code Release(handle, count)}; frees the region when no holds remain.
     *
     * @param handle a RegionHandle
     * @param count descriptors released
     * @return true if the handle named a live region
     */
    public synchronized boolean peerReleased(long handle, long count) {
        Region r = live.get(handle);
        if (r == null) {
            return false; // stale or duplicate
        }
        r.peerHolds -= count;
        if (r.peerHolds <= 0) {
            free(r);
        }
        return true;
    }

    /**
     * Frees a region that was never sent (or whose send failed).
     *
     * @param r the region
     */
    public synchronized void free(Region r) {
        if (r.freed) {
            return;
        }
        r.freed = true;
        if (live.remove(r.handle) != null) {
            LIVE_REGIONS.decrementAndGet();
        }
        if (r.onFree != null) {
            Runnable f = r.onFree;
            r.onFree = null;
            f.run(); // the memory belongs to the JVM-wide arena, not to a free list here
            return;
        }
        bytesInUse -= r.length;
        r.segment.free.give(r.offset, r.length);
    }

    /**
     * Reads Python's Release notices from the Python -&gt; Java ring.
     *
     * @return notices read
     */
    public int drainRing() {
        return drainRing(h -> { });
    }

    /**
     * Reads Python's notices from the Python -&gt; Java ring: Release notices
     * are applied here, acknowledgements of answers
     * ({@link gatun.server.shm.ReleaseRing#isAckNotice}) go to {@code acks}.
     *
     * @param acks receives each acknowledgement's handle
     * @return notices read
     */
    public int drainRing(java.util.function.LongConsumer acks) {
        if (seg == null) {
            return 0;
        }
        int ring = ControlSegment.RING_PY_TO_JAVA_OFFSET;
        long head = seg.releaseRing(ring).head();
        long tail = seg.releaseRing(ring).tail();
        if (head == tail) {
            return 0;
        }
        if (Long.compareUnsigned(tail, head) > 0 || Long.compareUnsigned(head - tail, ReleaseRing.CAPACITY) > 0) {
            return 0; // corrupt: not followed
        }
        int n = 0;
        synchronized (this) {
            // Re-read under the lock: lanes drain concurrently, the tail is ours alone.
            tail = seg.releaseRing(ring).tail();
            for (; tail != head && Long.compareUnsigned(tail, head) < 0; tail++) {
                long h = seg.releaseRing(ring).handle(tail);
                long c = Integer.toUnsignedLong(seg.releaseRing(ring).count(tail));
                if (ReleaseRing.isAckNotice(h)) {
                    acks.accept(h);
                } else {
                    peerReleased(h, c);
                }
                n++;
            }
            seg.releaseRing(ring).setTail(tail);
        }
        return n;
    }

    /** @return the handles of live regions (for tests) */
    synchronized List<Long> liveHandles() {
        return new ArrayList<>(live.keySet());
    }

    /** @return live regions */
    public synchronized int liveRegions() {
        return live.size();
    }

    /** @return bytes in live regions */
    public synchronized long bytesInUse() {
        return bytesInUse;
    }

    /** @return segments created */
    public synchronized int segmentCount() {
        return segments.size();
    }

    /** Retires every directory entry and deletes the segment files and directory. */
    public synchronized void close() {
        if (closed) {
            return;
        }
        drainRing(); // releases Python sent as it closed: those blocks are free now, not at its exit
        closed = true;
        // Blocks of the JVM-wide arena that Python received: its arrays may
        // still read them after the session (they stay valid by contract), so
        // they go back only once that Python process has exited.
        List<Runnable> shared = new ArrayList<>();
        for (Region r : new ArrayList<>(live.values())) {
            if (r.onFree != null) {
                Runnable f = r.onFree;
                r.onFree = null;
                r.freed = true;
                shared.add(f);
            }
        }
        if (seg != null) {
            DepartedPeers.releaseAfterExit(seg.pythonPid(), seg.pythonStartTime(), shared);
        } else {
            for (Runnable f : shared) {
                f.run();
            }
        }
        LIVE_REGIONS.addAndGet(-live.size()); // the session's own regions die with it
        live.clear();
        for (OwnedSegment s : segments) {
            if (seg != null) {
                seg.directory().retire(s.entry);
            }
            try {
                Files.deleteIfExists(s.shared != null ? s.link : s.mapping.path());
            } catch (IOException e) {
                // best effort
            }
        }
        if (dir != null) {
            try {
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                // best effort
            }
        }
    }
}
