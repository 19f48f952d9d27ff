package gatun.server.dispatch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import gatun.server.Metrics;
import gatun.server.ObjectRegistry;
import gatun.server.Wire;
import gatun.server.reflect.ClassPolicy;
import gatun.server.reflect.MethodResolver;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Issue 4's "no allocation per call in the Java dispatcher": after a warm-up,
 * a request like an earlier one, through one {@link DispatchScratch} as a
 * lane's are, allocates nothing of the dispatcher's own. Counted with the
 * thread's allocated bytes, averaged over many requests so that a rare
 * allocation of the JVM's own (a deoptimisation, say) does not fail it,
 * while one object per request (16 bytes at least) does. Not a timing test.
 *
 * <p>Every value stays within the JDK's box caches (-128..127), so no box is
 * counted that the call itself needs; the list's id is above 127, as in a
 * session that has made a few objects.
 */
class DispatcherAllocationTest {
    private static final int WARM_UP = 30_000;
    private static final int MEASURED = 20_000;
    /** Bytes per request tolerated on average: far below the smallest object. */
    private static final double MAX_BYTES_PER_REQUEST = 1.0;

    private final ClassPolicy policy = new ClassPolicy("");
    private final ObjectRegistry registry = new ObjectRegistry(1_000_000);
    private final Dispatcher d = new Dispatcher(registry, new MethodResolver(policy), policy, new Metrics(), () -> 1);
    private final DispatchScratch scratch = d.newScratch();
    private final FlatBufferBuilder b = new FlatBufferBuilder(1 << 16);

    @Test
    void repeatedRequestsAllocateNothing() {
        com.sun.management.ThreadMXBean mx = allocationCounter();
        for (int i = 0; i < 200; i++) {
            registry.register(new Object());
        }
        // Room for every single add below, so the list never grows (that is ArrayList's allocation, not ours).
        b.clear();
        b.finish(d.handle(b, ByteBuffer.wrap(Wire.create("java.util.ArrayList", 4 * (WARM_UP + MEASURED)).bytes())));
        long list = Wire.read(b.dataBuffer()).id();
        // Starts with clear(), so that the list stays small however many times it runs.
        Wire.Req batch = Wire.of(Action.Batch);
        batch.batch.add(Wire.call(list, "clear"));
        for (int i = 0; i < 99; i++) {
            batch.batch.add(Wire.call(list, "add", i));
        }

        assertAllocatesNothing(mx, "ping", Wire.of(Action.Ping));
        assertAllocatesNothing(mx, "Math.abs(-7)", Wire.callStatic("java.lang.Math", "abs", -7));
        assertAllocatesNothing(mx, "Math.max(3, 4)", Wire.callStatic("java.lang.Math", "max", 3, 4));
        assertAllocatesNothing(mx, "list.add(7)", Wire.call(list, "add", 7));
        assertAllocatesNothing(mx, "a batch of list.clear() and 99 list.add(i)", batch);
    }

    private void assertAllocatesNothing(com.sun.management.ThreadMXBean mx, String what, Wire.Req req) {
        ByteBuffer request = ByteBuffer.wrap(req.bytes());
        for (int i = 0; i < WARM_UP; i++) {
            handle(request);
        }
        long before = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < MEASURED; i++) {
            handle(request);
        }
        double perRequest = (mx.getCurrentThreadAllocatedBytes() - before) / (double) MEASURED;
        assertTrue(perRequest <= MAX_BYTES_PER_REQUEST,
                () -> what + " allocated " + perRequest + " bytes per request after " + WARM_UP
                        + " warm-up requests; expected none (see DispatchBench for a breakdown)");
    }

    private void handle(ByteBuffer request) {
        b.clear();
        int root = d.handle(b, request, Integer.MAX_VALUE, scratch);
        b.finish(root);
    }

    /** The JVM's per-thread allocation counter; skips the test where there is none. */
    private static com.sun.management.ThreadMXBean allocationCounter() {
        java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(mx instanceof com.sun.management.ThreadMXBean,
                "this JVM's ThreadMXBean does not count allocated bytes");
        com.sun.management.ThreadMXBean counter = (com.sun.management.ThreadMXBean) mx;
        Assumptions.assumeTrue(counter.isThreadAllocatedMemorySupported(),
                "this JVM does not count the bytes a thread allocates");
        if (!counter.isThreadAllocatedMemoryEnabled()) {
            counter.setThreadAllocatedMemoryEnabled(true);
        }
        return counter;
    }
}
