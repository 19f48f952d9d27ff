package gatunbench;

import gatun.server.arrow.ArrowBridge;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;

/**
 * Java side of benches/python/bench_arrow.py, shared by gatun, JPype and Py4J.
 *
 * <p>Java -&gt; Python starts, for every peer, from the same root built once by
 * {@link #prepare} and kept in a static field, so the timed part is the
 * transfer alone; {@link #buildNanos} times the build on its own.
 * {@link #view} hands gatun a zero-copy view of that root (buffers retained,
 * not copied): the bridge copies it into its arena and closes the view, the
 * cached root stays open. Python -&gt; Java receivers for the peers read the
 * IPC stream with {@link ArrowStreamReader} and keep the reader (so the data
 * is held, as gatun's root is) until {@link #release}.
 */
public final class Make {
    private static final Map<String, VectorSchemaRoot> CACHE = new HashMap<>();
    private static final List<ArrowStreamReader> HELD = new ArrayList<>();

    private Make() {
    }

    static BufferAllocator alloc() {
        return ArrowBridge.allocator();
    }

    /** Same data as the Python side: i, i * 0.5, or i as 8 decimal digits. */
    public static VectorSchemaRoot build(String kind, int n) {
        FieldVector v;
        switch (kind) {
            case "int64": {
                BigIntVector x = new BigIntVector("x", alloc());
                x.allocateNew(n);
                for (int i = 0; i < n; i++) x.set(i, (long) i);
                v = x;
                break;
            }
            case "float64": {
                Float8Vector x = new Float8Vector("x", alloc());
                x.allocateNew(n);
                for (int i = 0; i < n; i++) x.set(i, i * 0.5);
                v = x;
                break;
            }
            case "utf8": {
                VarCharVector x = new VarCharVector("x", alloc());
                x.allocateNew(8L * n, n);
                byte[] s = new byte[8];
                for (int i = 0; i < n; i++) {
                    int r = i;
                    for (int k = 7; k >= 0; k--) {
                        s[k] = (byte) ('0' + r % 10);
                        r /= 10;
                    }
                    x.set(i, s);
                }
                v = x;
                break;
            }
            default:
                throw new IllegalArgumentException(kind);
        }
        v.setValueCount(n);
        VectorSchemaRoot root = VectorSchemaRoot.of(v);
        root.setRowCount(n);
        return root;
    }

    /** Build the root Java -&gt; Python sends and keep it; returns the build time in ns. */
    public static long prepare(String kind, int n) {
        drop();
        long t0 = System.nanoTime();
        VectorSchemaRoot r = build(kind, n);
        long t = System.nanoTime() - t0;
        CACHE.put(kind, r);
        return t;
    }

    /** Build a root and close it: the Java-side build time alone, in ns. */
    public static long buildNanos(String kind, int n) {
        long t0 = System.nanoTime();
        VectorSchemaRoot r = build(kind, n);
        long t = System.nanoTime() - t0;
        r.close();
        return t;
    }

    public static void drop() {
        for (VectorSchemaRoot r : CACHE.values()) r.close();
        CACHE.clear();
        release();
    }

    static VectorSchemaRoot cached(String kind) {
        VectorSchemaRoot r = CACHE.get(kind);
        if (r == null) throw new IllegalStateException("prepare(" + kind + ") first");
        return r;
    }

    /** A new root over the cached root's buffers (retained, not copied). */
    public static VectorSchemaRoot view(String kind) {
        return viewOf(cached(kind));
    }

    static VectorSchemaRoot viewOf(VectorSchemaRoot src) {
        VectorSchemaRoot out = VectorSchemaRoot.create(src.getSchema(), alloc());
        try (ArrowRecordBatch batch = new VectorUnloader(src).getRecordBatch()) {
            new VectorLoader(out).load(batch);
        }
        return out;
    }

    /** Bytes of all buffers of the cached root (what a transfer moves). */
    public static long bytes(String kind) {
        long s = 0;
        for (FieldVector v : cached(kind).getFieldVectors()) {
            for (ArrowBuf b : v.getFieldBuffers()) s += b.readableBytes();
        }
        return s;
    }

    // ------------------------------------------------------------ JPype

    /** Java -&gt; Python for JPype: the cached root as an IPC stream in a direct ByteBuffer. */
    public static ByteBuffer ipcDirect(String kind) throws IOException {
        VectorSchemaRoot r = cached(kind);
        GrowingChannel ch = new GrowingChannel(bytes(kind) + 4096);
        try (ArrowStreamWriter w = new ArrowStreamWriter(r, null, ch)) {
            w.start();
            w.writeBatch();
            w.end();
        }
        ByteBuffer b = ch.buf;
        b.flip();
        return b.slice();
    }

    /** Python -&gt; Java for JPype: read an IPC stream from a direct ByteBuffer; keeps the data. */
    public static long readDirect(ByteBuffer b) throws IOException {
        ArrowStreamReader reader = new ArrowStreamReader(new BufferChannel(b), alloc());
        HELD.add(reader);
        long rows = 0;
        while (reader.loadNextBatch()) rows += reader.getVectorSchemaRoot().getRowCount();
        return rows;
    }

    // ------------------------------------------------------------ Py4J

    /** Java -&gt; Python for Py4J: the cached root as an IPC stream in a file. */
    public static long ipcFile(String kind, String path) throws IOException {
        VectorSchemaRoot r = cached(kind);
        try (FileOutputStream out = new FileOutputStream(path);
                ArrowStreamWriter w = new ArrowStreamWriter(r, null, out.getChannel())) {
            w.start();
            w.writeBatch();
            w.end();
        }
        return r.getRowCount();
    }

    /** Python -&gt; Java for Py4J: read an IPC stream from a file; keeps the data. */
    public static long readFile(String path) throws IOException {
        FileInputStream in = new FileInputStream(path);
        ArrowStreamReader reader = new ArrowStreamReader(in, alloc());
        HELD.add(reader);
        long rows = 0;
        while (reader.loadNextBatch()) rows += reader.getVectorSchemaRoot().getRowCount();
        return rows;
    }

    /** Close what the readers hold. */
    public static void release() {
        for (ArrowStreamReader r : HELD) {
            try {
                r.close();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }
        HELD.clear();
    }

    /** Allocator bytes still held (to check nothing leaks). */
    public static long allocated() {
        return alloc().getAllocatedMemory();
    }

    static final class BufferChannel implements ReadableByteChannel {
        private final ByteBuffer src;
        private boolean open = true;

        BufferChannel(ByteBuffer src) {
            this.src = src.duplicate();
        }

        @Override
        public int read(ByteBuffer dst) {
            if (!src.hasRemaining()) return -1;
            int n = Math.min(dst.remaining(), src.remaining());
            ByteBuffer s = src.duplicate();
            s.limit(s.position() + n);
            dst.put(s);
            src.position(src.position() + n);
            return n;
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }

    static final class GrowingChannel implements WritableByteChannel {
        ByteBuffer buf;
        private boolean open = true;

        GrowingChannel(long capacity) {
            buf = ByteBuffer.allocateDirect((int) Math.min(Integer.MAX_VALUE - 64, capacity));
        }

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            if (buf.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocateDirect(Math.max(buf.capacity() * 2, buf.position() + n));
                buf.flip();
                bigger.put(buf);
                buf = bigger;
            }
            buf.put(src);
            return n;
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }
}
