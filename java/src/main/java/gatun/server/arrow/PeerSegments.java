package gatun.server.arrow;

import gatun.server.shm.ControlSegment;
import gatun.server.shm.Layout;
import gatun.server.shm.Segment;
import gatun.server.shm.SegmentDirectory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Python's segments as one session maps them, as Rust's {@code PeerSegments}:
 * found by id in Python's half of the {@link SegmentDirectory}, mapped once
 * (by memfd through {@code /proc/<pid>/fd}, or by path), and mapped again if
 * the entry changed (a new generation). A region of a descriptor is checked
 * against its segment here before anything reads it.
 */
final class PeerSegments {
    private final ControlSegment seg;
    /** Segments mapped so far, by segment id; guarded by itself. */
    private final Map<Integer, Mapped> mapped = new HashMap<>();

    /** @param seg the session's control segment */
    PeerSegments(ControlSegment seg) {
        this.seg = seg;
    }

    /** A mapped Python segment and the directory fields it was mapped under. */
    private record Mapped(int memfd, String name, long size, int generation, Segment mapping) {
    }

    /** Validates every region against its segment and maps the segments it needs. */
    void map(DescriptorReader.Region[] regions) {
        for (int i = 0; i < regions.length; i++) {
            DescriptorReader.Region r = regions[i];
            if (r.segment < Layout.PYTHON_FIRST_SEGMENT_ID || r.segment >= Layout.JAVA_FIRST_SEGMENT_ID) {
                throw new IllegalArgumentException("region " + i + " lies in segment " + r.segment
                        + ", which is not one of Python's");
            }
            Segment m = segment(r.segment);
            if (r.offset < 0 || r.length < 0 || r.offset > m.size() || r.length > m.size() - r.offset) {
                throw new IllegalArgumentException("region " + i + " (" + Long.toUnsignedString(r.length)
                        + " bytes at " + Long.toUnsignedString(r.offset) + ") exceeds segment " + r.segment + " of "
                        + m.size() + " bytes");
            }
            r.mapping = m;
        }
    }

    /** Finds Python's segment {@code id} in the directory and maps it (once). */
    Segment segment(int id) {
        for (int entry = 0; entry < SegmentDirectory.PYTHON_ENTRIES; entry++) {
            if (seg.directory().published(entry) != Layout.ENTRY_LIVE || seg.directory().segmentId(entry) != id) {
                continue;
            }
            int memfd = seg.directory().memfd(entry);
            String name = memfd >= 0 ? "" : seg.directory().name(entry);
            long size = seg.directory().size(entry);
            int generation = seg.directory().generation(entry);
            synchronized (mapped) {
                Mapped p = mapped.get(id);
                if (p != null && p.memfd == memfd && p.name.equals(name) && p.size == size
                        && p.generation == generation) {
                    return p.mapping;
                }
                if (size <= 0 || size > ControlSegment.MAX_SEGMENT_SIZE) {
                    throw new IllegalArgumentException("segment " + id + " has size " + size);
                }
                Path path;
                if (memfd >= 0) {
                    path = Path.of("/proc", Integer.toUnsignedString(seg.pythonPid()), "fd", Integer.toString(memfd));
                } else {
                    if (name.isEmpty() || !name.startsWith("/")) {
                        throw new IllegalArgumentException("segment " + id + " has neither a memfd nor a path");
                    }
                    path = Path.of(name);
                }
                Segment m;
                try {
                    m = Segment.mapPeer(path, size);
                } catch (IOException e) {
                    throw new IllegalStateException("cannot map Python's segment " + id + ": " + e.getMessage(), e);
                }
                // The replaced mapping (if any) stays alive through the allocations over it.
                mapped.put(id, new Mapped(memfd, name, size, generation, m));
                return m;
            }
        }
        throw new IllegalArgumentException("segment " + id + " is not published in the segment directory");
    }
}
