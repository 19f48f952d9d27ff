package gatun.spark;

import static gatun.spark.SparkBridgeHarness.check;

import gatun.server.arrow.ArrowBridge;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.spi.ToolProvider;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Cluster mode's transport checked for real: the jar shipped to executors
 * has every class of gatun's its classes refer to (read by the JDK's
 * {@code jdeps}), and the driver's {@link ResultPort} parks what a
 * {@link PartitionMessages} stream sends over a real socket, parks nothing of
 * a stream cut short, and leaves the task to return its messages when it
 * refuses a stream (a wrong secret, a forgotten result, pushing turned off).
 */
final class ResultPortChecks {
    private static final int ROWS = 1000;

    private ResultPortChecks() {
    }

    static void run(SparkSession spark) throws Exception {
        executorJarIsWhole();
        streams(spark);
    }

    static void executorJarIsWhole() {
        StringWriter out = new StringWriter();
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow();
        int rc = jdeps.run(new PrintWriter(out), new PrintWriter(out), "-verbose:class", "-filter:none",
                ExecutorJar.written().toString());
        check(rc == 0, "jdeps read the executors' jar: " + out);
        List<String> missing = out.toString().lines()
                .filter(l -> l.contains("-> gatun.") && l.trim().endsWith("not found")).toList();
        check(missing.isEmpty(), "the executors' jar has every class of gatun's it refers to; missing:\n"
                + String.join("\n", missing));
        check(out.toString().contains("gatun.spark.ColumnCopier$VarWidth"), "nested classes are shipped");
    }

    static void streams(SparkSession spark) throws Exception {
        SparkContext sc = spark.sparkContext();
        BufferAllocator bridge = ArrowBridge.allocator();
        long baseline = bridge.getAllocatedMemory();
        try (BufferAllocator executor = new RootAllocator(); VectorSchemaRoot root = longs(executor)) {
            long id = Parked.newResult(SparkContexts.watch(sc));
            PartitionMessages.Target target = ResultPort.expect(sc, spark.conf(), id, root.getSchema());
            check(target != null, "the driver opens a result port");

            try (PartitionMessages out = PartitionMessages.open(target, 0)) {
                out.add(root);
                out.add(IpcMessage.of(root)); // the row path's messages are bytes already
                check(out.result() == null, "a pushed partition is not the task's result");
            }
            List<VectorSchemaRoot> parked = Parked.takeResult(id, 0);
            check(parked != null && parked.size() == 2, "the pushed partition is parked: " + parked);
            for (VectorSchemaRoot r : parked) {
                BigIntVector v = (BigIntVector) r.getVector(0);
                check(r.getRowCount() == ROWS && v.get(ROWS - 1) == 3L * (ROWS - 1) && v.isNull(7),
                        "pushed values arrive as sent");
                check(v.getDataBuffer().getReferenceManager().getAllocator().getRoot() == bridge,
                        "pushed batches land on the bridge allocator");
                r.close();
            }

            cutShort(target, root); // returns once the driver reads the stream
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (ResultPort.streamsReading(id) > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            check(ResultPort.streamsReading(id) == 0, "the driver ends a stream cut short");
            check(bridge.getAllocatedMemory() == baseline, "a stream cut short leaves nothing allocated");
            check(Parked.takeResult(id, 1) == null, "a stream cut short parks nothing");

            byte[] wrong = target.secret().clone();
            wrong[0] ^= 1;
            PartitionMessages.Target forged = new PartitionMessages.Target(target.host(), target.port(), wrong, id);
            check(gathered(forged, root) == 1, "a stream with a wrong secret is refused: the task returns it");

            int closed;
            try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
                closed = s.getLocalPort(); // nothing listens there once closed
            }
            PartitionMessages.Target nowhere = new PartitionMessages.Target(target.host(), closed,
                    target.secret(), id);
            check(gathered(nowhere, root) == 1, "a driver port that cannot be reached: the task returns its messages");
            check(gathered(nowhere, root) == 1, "and again (without trying the port again)");

            ResultPort.forget(id);
            check(gathered(target, root) == 1, "a forgotten result's stream is refused: the task returns it");
            Parked.dropResult(id);

            String old = spark.conf().get(ResultPort.ENABLED, null);
            spark.conf().set(ResultPort.ENABLED, "false");
            try {
                check(ResultPort.expect(sc, spark.conf(), id, root.getSchema()) == null,
                        ResultPort.ENABLED + "=false: tasks return their messages");
            } finally {
                if (old == null) {
                    spark.conf().unset(ResultPort.ENABLED);
                } else {
                    spark.conf().set(ResultPort.ENABLED, old);
                }
            }
        }
    }

    /** A header the driver accepts, one whole message, then the connection closed without the end. */
    private static void cutShort(PartitionMessages.Target target, VectorSchemaRoot root) throws Exception {
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress(target.host(), target.port()))) {
            ch.write(PartitionMessages.header(target, 1));
            ByteBuffer answer = ByteBuffer.allocate(1);
            ch.read(answer);
            check(answer.get(0) == PartitionMessages.ACCEPTED, "the port accepts a well-formed header");
            ch.write(ByteBuffer.wrap(IpcMessage.of(root)));
        }
    }

    /** @return how many messages the task would return itself */
    private static int gathered(PartitionMessages.Target target, VectorSchemaRoot root) throws Exception {
        try (PartitionMessages out = PartitionMessages.open(target, 2)) {
            out.add(root);
            byte[][] result = out.result();
            return result == null ? 0 : result.length;
        }
    }

    private static VectorSchemaRoot longs(BufferAllocator a) {
        BigIntVector v = new BigIntVector("v", a);
        v.allocateNew(ROWS);
        for (int i = 0; i < ROWS; i++) {
            if (i != 7) {
                v.set(i, 3L * i);
            }
        }
        v.setValueCount(ROWS);
        VectorSchemaRoot root = VectorSchemaRoot.of(v);
        root.setRowCount(ROWS);
        return root;
    }
}
