package gatun.server.dispatch;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import gatun.server.Metrics;
import gatun.server.ObjectRegistry;
import gatun.server.Wire;
import gatun.server.reflect.ClassPolicy;
import gatun.server.reflect.MethodResolver;
import java.nio.ByteBuffer;

/**
 * Micro-benchmark (not a JUnit test): time per item of a 10,000-item Batch of
 * {@code arr.add(i)} and of 10,000 single {@code arr.add(i)} / {@code Math.abs(i)}
 * requests, run through {@link Dispatcher#handle} directly, and the bytes the
 * dispatcher allocates per request (the no-allocation audit of issue 4).
 *
 * <p>Requests go through one {@link DispatchScratch}, as a lane's do, and each
 * is wrapped once, so the figures are the dispatcher's own. The list gets an id above 127, as in any
 * session that has made a few objects ({@code Long.valueOf} caches up to 127).
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
        DispatchScratch s = d.newScratch();
        FlatBufferBuilder b = new FlatBufferBuilder(1 << 20);

        for (int i = 0; i < 200; i++) {
            registry.register(new Object());
        }
        b.clear();
        b.finish(d.handle(b, ByteBuffer.wrap(Wire.create("java.util.ArrayList").bytes())));
        long id = Wire.read(b.dataBuffer()).id();

        int n = 10_000;
        Wire.Req batch = Wire.of(Action.Batch);
        for (int i = 0; i < n; i++) {
            batch.batch.add(Wire.call(id, "add", i));
        }
        ByteBuffer batchBytes = wrap(batch);
        ByteBuffer single = wrap(Wire.call(id, "add", 7));
        ByteBuffer singleBoxed = wrap(Wire.call(id, "add", 1000));
        ByteBuffer clear = wrap(Wire.call(id, "clear"));
        ByteBuffer stat = wrap(Wire.callStatic("java.lang.Math", "abs", -7));
        ByteBuffer max = wrap(Wire.callStatic("java.lang.Math", "max", 3, 4));
        ByteBuffer maxBoxed = wrap(Wire.callStatic("java.lang.Math", "max", 1000, 2000));
        ByteBuffer ping = wrap(Wire.of(Action.Ping));

        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            handle(d, s, b, batchBytes);
            long t1 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                handle(d, s, b, single);
            }
            long t2 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                handle(d, s, b, stat);
            }
            long t3 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                handle(d, s, b, max);
                handle(d, s, b, maxBoxed);
                handle(d, s, b, ping);
                handle(d, s, b, singleBoxed);
            }
            handle(d, s, b, clear);
            if (r >= rounds - 5) {
                System.out.printf("batched add: %.3f us/item   single add: %.3f us   static Math.abs: %.3f us%n",
                        (t1 - t0) / 1e3 / n, (t2 - t1) / 1e3 / n, (t3 - t2) / 1e3 / n);
            }
        }
        // The list is cleared before each measurement, outside it: it keeps its capacity (over 30,000 after
        // the rounds), so no add below grows it and what is counted is the dispatcher's.
        System.out.printf("allocated per request: batched add %.1f B/item, add(7) %.1f B, add(1000) %.1f B,%n"
                        + "  Math.abs(-7) %.1f B, Math.max(3, 4) %.1f B, Math.max(1000, 2000) %.1f B, ping %.1f B%n",
                allocated(d, s, b, batchBytes, 10, clear) / n, allocated(d, s, b, single, n, clear),
                allocated(d, s, b, singleBoxed, n, clear), allocated(d, s, b, stat, n, clear),
                allocated(d, s, b, max, n, clear), allocated(d, s, b, maxBoxed, n, clear), allocated(d, s, b, ping, n, clear));
    }

    private static ByteBuffer wrap(Wire.Req request) {
        return ByteBuffer.wrap(request.bytes());
    }

    private static void handle(Dispatcher d, DispatchScratch s, FlatBufferBuilder b, ByteBuffer request) {
        b.clear();
        b.finish(d.handle(b, request, Integer.MAX_VALUE, s));
    }

    /**
     * Bytes this thread allocates per {@code handle} of {@code request} (averaged over {@code times}),
     * each preceded by an uncounted {@code reset}.
     */
    private static double allocated(Dispatcher d, DispatchScratch s, FlatBufferBuilder b, ByteBuffer request,
                                    int times, ByteBuffer reset) {
        com.sun.management.ThreadMXBean mx =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long total = 0;
        for (int i = 0; i < times; i++) {
            handle(d, s, b, reset);
            long before = mx.getCurrentThreadAllocatedBytes();
            handle(d, s, b, request);
            total += mx.getCurrentThreadAllocatedBytes() - before;
        }
        return total / (double) times;
    }
}
