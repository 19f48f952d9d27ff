package gatun.server;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import java.nio.ByteBuffer;

/**
 * Micro-benchmark (not a JUnit test): time per item of a 10,000-item Batch of
 * {@code arr.add(i)} and of 10,000 single {@code arr.add(i)} / {@code Math.abs(i)}
 * requests, run through {@link Dispatcher#handle} directly, and the bytes the
 * dispatcher allocates per request (the no-allocation audit of issue 4).
 *
 * <p>Run: {@code java -cp target/gatun-server.jar:target/test-classes gatun.server.DispatchBench}
 */
public final class DispatchBench {
    private DispatchBench() {
    }

    public static void main(String[] argv) {
        int rounds = argv.length > 0 ? Integer.parseInt(argv[0]) : 30;
        ClassPolicy policy = new ClassPolicy("");
        ObjectRegistry registry = new ObjectRegistry(1_000_000);
        Dispatcher d = new Dispatcher(registry, new MethodResolver(policy), policy, new Metrics(), () -> 1);
        FlatBufferBuilder b = new FlatBufferBuilder(1 << 20);

        b.clear();
        b.finish(d.handle(b, ByteBuffer.wrap(Wire.create("java.util.ArrayList").bytes())));
        long id = Wire.read(b.dataBuffer()).id();

        int n = 10_000;
        Wire.Req batch = Wire.of(Action.Batch);
        for (int i = 0; i < n; i++) {
            batch.batch.add(Wire.call(id, "add", i));
        }
        byte[] batchBytes = batch.bytes();
        byte[] single = Wire.call(id, "add", 7).bytes();
        byte[] clear = Wire.call(id, "clear").bytes();
        byte[] stat = Wire.callStatic("java.lang.Math", "abs", -7).bytes();

        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            b.clear();
            b.finish(d.handle(b, ByteBuffer.wrap(batchBytes)));
            long t1 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                b.clear();
                b.finish(d.handle(b, ByteBuffer.wrap(single)));
            }
            long t2 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                b.clear();
                b.finish(d.handle(b, ByteBuffer.wrap(stat)));
            }
            long t3 = System.nanoTime();
            b.clear();
            b.finish(d.handle(b, ByteBuffer.wrap(clear)));
            if (r >= rounds - 5) {
                System.out.printf("batched add: %.3f us/item   single add: %.3f us   static Math.abs: %.3f us%n",
                        (t1 - t0) / 1e3 / n, (t2 - t1) / 1e3 / n, (t3 - t2) / 1e3 / n);
            }
        }
        System.out.printf("allocated per request: batched add %.0f B/item, single add %.0f B, Math.abs %.0f B%n",
                allocated(d, b, batchBytes, 10) / n, allocated(d, b, single, n), allocated(d, b, stat, n));
    }

    /** Bytes this thread allocates per {@code handle} of {@code request} (averaged over {@code times}). */
    private static double allocated(Dispatcher d, FlatBufferBuilder b, byte[] request, int times) {
        com.sun.management.ThreadMXBean mx =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < times; i++) {
            b.clear();
            b.finish(d.handle(b, ByteBuffer.wrap(request)));
        }
        return (mx.getCurrentThreadAllocatedBytes() - before) / (double) times;
    }
}
