package gatun.server.arrow;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.TimeUnit;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Loads and initialises the classes of the Python → Java Arrow path on a
 * background thread once the first client has connected, so that the first
 * batch a user sends does not pay for them.
 *
 * <p><b>Why.</b> Arrow Java's {@code Schema} class builds a Jackson
 * {@code ObjectMapper} in its static initialiser, and the loader, vector and
 * allocator classes are read from the jar on first use: together about half a
 * second on a 2-core machine, all of it on the first {@code send_arrow} of a
 * JVM's life. Done here, it overlaps with whatever Python does before its first
 * send (a send that comes sooner waits for it, and is no slower than without).
 * It starts only after every lane has connected: run beside the handshake, it
 * competed with it for the two cores and slowed {@code connect()}.
 *
 * <p>The warm-up runs the same steps a received batch goes through (schema
 * decoding from IPC bytes, {@code VectorSchemaRoot.create}, {@code VectorLoader},
 * {@link ArrowSession#validate}) on a small table in ordinary native memory —
 * never in the bridge allocator's `Arena`, so a JVM that never sees Arrow data creates no
 * shared-memory segment. It is a daemon thread at minimum priority; a failure
 * is logged and changes nothing. {@code -Dgatun.arrow.warmup=false} turns it off.
 */
public final class ArrowWarmup {
    private static final Logger LOG = Logger.getLogger(ArrowWarmup.class.getName());

    /** Rows of the sample table: enough for a validity byte and an offsets buffer. */
    private static final int ROWS = 16;

    private ArrowWarmup() {
    }

    private static final AtomicBoolean STARTED = new AtomicBoolean();
    private static final CountDownLatch FINISHED = new CountDownLatch(1);

    /**
     * Starts the warm-up thread, once per JVM, unless {@code gatun.arrow.warmup}
     * is {@code false}.
     */
    public static void startInBackground() {
        if (!Boolean.parseBoolean(System.getProperty("gatun.arrow.warmup", "true"))
                || !STARTED.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(ArrowWarmup::runQuietly, "gatun-arrow-warmup");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    /**
     * Waits for a started warm-up to finish, e.g. before measuring an idle
     * JVM's CPU time.
     *
     * @param millis how long to wait at most
     * @return true if no warm-up was started or it has finished
     * @throws InterruptedException if interrupted while waiting
     */
    public static boolean awaitFinished(long millis) throws InterruptedException {
        return !STARTED.get() || FINISHED.await(millis, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /**
     * Makes sure the warm-up has run, for a JVM about to record the classes it
     * loaded (AppCDS): runs it on this thread if it has not started (the
     * session may end before it does), else waits for it.
     *
     * @param millis how long to wait at most for a warm-up already running
     * @throws InterruptedException if interrupted while waiting
     */
    public static void runOrAwait(long millis) throws InterruptedException {
        if (STARTED.compareAndSet(false, true)) {
            runQuietly();
        } else {
            FINISHED.await(millis, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    private static void runQuietly() {
        try {
            run();
        } catch (Throwable t) { // a warm-up must never take the server down
            LOG.log(Level.FINE, "Arrow warm-up failed (harmless)", t);
        } finally {
            FINISHED.countDown();
        }
    }

    /** One pass over the receive path with a small table of common types. */
    static void run() {
        ByteBuffer message = MessageSerializer.serializeMetadata(sampleSchema(), IpcOption.DEFAULT);
        byte[] bytes = new byte[message.remaining()];
        message.get(bytes);
        Schema schema = SchemaRegistry.decode(bytes);
        try (BufferAllocator allocator = new RootAllocator(RootAllocator.configBuilder()
                .allocationManagerFactory(NativeAllocationManager.FACTORY)
                .build());
                VectorSchemaRoot source = VectorSchemaRoot.create(schema, allocator);
                VectorSchemaRoot target = VectorSchemaRoot.create(schema, allocator)) {
            fill(source);
            try (ArrowRecordBatch batch = new VectorUnloader(source).getRecordBatch()) {
                new VectorLoader(target).load(batch);
            }
            ArrowSession.validate(target.getFieldVectors());
        }
    }

    private static Schema sampleSchema() {
        return new Schema(List.of(
                Field.nullable("int64", new ArrowType.Int(64, true)),
                Field.nullable("float64", new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)),
                Field.nullable("utf8", ArrowType.Utf8.INSTANCE),
                Field.nullable("bool", ArrowType.Bool.INSTANCE),
                Field.nullable("timestamp", new ArrowType.Timestamp(TimeUnit.MICROSECOND, "UTC")),
                new Field("list", FieldType.nullable(ArrowType.List.INSTANCE),
                        List.of(Field.nullable("item", new ArrowType.Int(32, true))))));
    }

    private static void fill(VectorSchemaRoot root) {
        root.allocateNew();
        BigIntVector ints = (BigIntVector) root.getVector("int64");
        Float8Vector floats = (Float8Vector) root.getVector("float64");
        VarCharVector strings = (VarCharVector) root.getVector("utf8");
        BitVector bools = (BitVector) root.getVector("bool");
        for (int i = 0; i < ROWS; i++) {
            ints.setSafe(i, i);
            floats.setSafe(i, i * 0.5);
            strings.setSafe(i, Integer.toString(i).getBytes(StandardCharsets.UTF_8));
            if (i % 3 == 0) {
                bools.setNull(i);
            } else {
                bools.setSafe(i, i % 2);
            }
        }
        root.setRowCount(ROWS);
    }
}
