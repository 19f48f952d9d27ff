package gatun.server.shm;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * One mapped payload segment of the Arrow arena: a peer's segment (mapped
 * lazily by path, {@code /proc/<pid>/fd/<n>} for a memfd) or one of Java's
 * own (a file created here).
 *
 * <p><b>Lifetime.</b> The mapping is unmapped by the garbage collector once this
 * object (which holds the {@link MappedByteBuffer}) is unreachable. Everything
 * that points into the mapping by raw address — every Arrow
 * {@code ForeignAllocation} over it — must therefore hold a strong reference to
 * its {@code Segment}: an unreachable mapping under a live {@code ArrowBuf}
 * would crash the JVM.
 */
public final class Segment {
    private final MappedByteBuffer buffer;
    private final long address;
    private final long size;
    private final Path path;
    private final boolean writable;

    private Segment(MappedByteBuffer buffer, long size, Path path, boolean writable) {
        this.buffer = buffer;
        this.address = MemoryUtil.getByteBufferAddress(buffer);
        this.size = size;
        this.path = path;
        this.writable = writable;
    }

    /**
     * Maps the first {@code size} bytes of a peer's segment, read/write when the
     * file allows it, else read-only.
     *
     * @param path the segment file or {@code /proc/<pid>/fd/<n>}
     * @param size bytes announced in the directory (at most {@link ControlSegment#MAX_SEGMENT_SIZE})
     * @return the mapping
     * @throws IOException if the file cannot be opened or holds fewer than {@code size} bytes
     *     (mapping past its end would fault on access)
     */
    public static Segment mapPeer(Path path, long size) throws IOException {
        if (size <= 0 || size > ControlSegment.MAX_SEGMENT_SIZE) {
            throw new IOException("segment size " + size + " is outside 1.." + ControlSegment.MAX_SEGMENT_SIZE);
        }
        FileChannel ch;
        boolean writable = true;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (AccessDeniedException e) {
            ch = FileChannel.open(path, StandardOpenOption.READ);
            writable = false;
        }
        try (FileChannel c = ch) {
            long actual = c.size();
            if (actual < size) {
                throw new IOException("segment " + path + " holds " + actual + " bytes, the directory announced "
                        + size);
            }
            MappedByteBuffer m = c.map(writable ? FileChannel.MapMode.READ_WRITE : FileChannel.MapMode.READ_ONLY,
                    0, size);
            return new Segment(m, size, path, writable);
        }
    }

    /**
     * Creates a new segment file (mode 0600, {@code O_EXCL}) of {@code size} bytes
     * and maps it read/write.
     *
     * @param path a fresh path inside a private directory
     * @param size bytes
     * @return the mapping
     * @throws IOException if the file exists or cannot be sized
     */
    public static Segment create(Path path, long size) throws IOException {
        if (size <= 0 || size > ControlSegment.MAX_SEGMENT_SIZE) {
            throw new IOException("segment size " + size + " is outside 1.." + ControlSegment.MAX_SEGMENT_SIZE);
        }
        Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        boolean ok = false;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE,
                java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            // Write every page (Java has no fallocate): on tmpfs a sparse file that cannot
            // be backed later faults with SIGBUS on first touch; writing now turns a full
            // /dev/shm into an IOException here instead.
            java.nio.ByteBuffer zeros = java.nio.ByteBuffer.allocateDirect(1 << 20);
            for (long at = 0; at < size; ) {
                zeros.clear();
                zeros.limit((int) Math.min(zeros.capacity(), size - at));
                at += ch.write(zeros, at);
            }
            MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_WRITE, 0, size);
            ok = true;
            return new Segment(m, size, path, true);
        } finally {
            if (!ok) {
                Files.deleteIfExists(path);
            }
        }
    }

    /** @return the mapping's base address */
    public long address() {
        return address;
    }

    /** @return mapped bytes */
    public long size() {
        return size;
    }

    /** @return the file that was mapped */
    public Path path() {
        return path;
    }

    /** @return true if mapped read/write */
    public boolean writable() {
        return writable;
    }

    /**
     * Copies bytes from native memory into the mapping.
     *
     * @param offset destination offset in the segment
     * @param srcAddress source address
     * @param length bytes
     */
    public void copyIn(long offset, long srcAddress, long length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException("copy of " + length + " bytes at " + offset
                    + " exceeds the segment of " + size + " bytes");
        }
        if (length > 0) {
            MemoryUtil.copyMemory(srcAddress, address + offset, length);
        }
    }

    /**
     * Copies bytes out of the mapping.
     *
     * @param offset source offset
     * @param dst destination array
     * @param dstOffset offset in {@code dst}
     * @param length bytes
     */
    public void get(long offset, byte[] dst, int dstOffset, int length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException("read of " + length + " bytes at " + offset
                    + " exceeds the segment of " + size + " bytes");
        }
        buffer.get((int) offset, dst, dstOffset, length);
    }

    /**
     * Copies bytes into the mapping.
     *
     * @param offset destination offset
     * @param src source bytes
     */
    public void put(long offset, byte[] src) {
        if (offset < 0 || offset > size - src.length) {
            throw new IndexOutOfBoundsException("write of " + src.length + " bytes at " + offset
                    + " exceeds the segment of " + size + " bytes");
        }
        buffer.put((int) offset, src);
    }

    /**
     * Copies part of an array into the mapping.
     *
     * @param offset destination offset
     * @param src source bytes
     * @param srcOffset first byte of {@code src} copied
     * @param length bytes
     */
    public void put(long offset, byte[] src, int srcOffset, int length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException("write of " + length + " bytes at " + offset
                    + " exceeds the segment of " + size + " bytes");
        }
        buffer.put((int) offset, src, srcOffset, length);
    }

    /**
     * A view of {@code length} bytes at {@code offset}, little-endian, from
     * position 0. It keeps the mapping alive while it is reachable.
     *
     * @param offset first byte
     * @param length bytes
     * @return the view
     */
    public java.nio.ByteBuffer slice(long offset, int length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException("view of " + length + " bytes at " + offset
                    + " exceeds the segment of " + size + " bytes");
        }
        return buffer.slice((int) offset, length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public String toString() {
        return "segment " + path + " (" + size + " bytes)";
    }
}
