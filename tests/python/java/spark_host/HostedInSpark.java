import gatun.protocol.Hello;
import gatun.protocol.ProtocolVersion;
import gatun.protocol.Welcome;
import gatun.server.GatunServer;
import gatun.server.arrow.ArrowBridge;
import gatun.server.arrow.ArrowWarmup;
import gatun.shaded.flatbuffers.FlatBufferBuilder;
import java.lang.reflect.Method;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.IntVector;
import org.apache.spark.sql.SparkSession;

/**
 * The server hosted in a JVM whose class path is PySpark's jars first and
 * the gatun jar after (test_server_jar.py runs it with the java source
 * launcher): Spark's Arrow classes are the ones in use, the bridge's
 * allocators work on them, the server answers a handshake, and Spark still
 * runs a job with its own logging. Prints one "ok ..." line per check; exits
 * non-zero at the first failure.
 *
 * <p>Argument: {@code no-unsafe} when arrow-memory-unsafe must not be reachable.
 */
public final class HostedInSpark {
    public static void main(String[] args) throws Exception {
        boolean noUnsafe = args.length > 0 && args[0].equals("no-unsafe");
        GatunServer server = GatunServer.startHosted();

        for (Class<?> c : new Class<?>[] {ArrowBuf.class, IntVector.class}) {
            String from = c.getProtectionDomain().getCodeSource().getLocation().toString();
            check(from.contains("/pyspark/jars/arrow-"), c.getName() + " comes from Spark's jars: " + from);
        }
        if (noUnsafe) {
            boolean reachable;
            try {
                Class.forName("org.apache.arrow.memory.unsafe.UnsafeAllocationManager");
                reachable = true;
            } catch (ClassNotFoundException e) {
                reachable = false;
            }
            check(!reachable, "arrow-memory-unsafe is not on the class path");
        }

        // The bridge allocator (the arena, and its native fallback's empty buffer).
        BufferAllocator allocator = ArrowBridge.allocator();
        try (IntVector v = new IntVector("v", allocator); ArrowBuf empty = allocator.buffer(0)) {
            v.allocateNew(1000);
            for (int i = 0; i < 1000; i++) {
                v.set(i, i);
            }
            v.setValueCount(1000);
            check(v.get(999) == 999 && empty.capacity() == 0, "the bridge allocator works on Spark's Arrow");
        }
        // The warm-up's allocator (NativeAllocationManager); run() throws where startInBackground would log.
        Method run = ArrowWarmup.class.getDeclaredMethod("run");
        run.setAccessible(true);
        run.invoke(null);
        check(true, "the Arrow warm-up runs on Spark's Arrow");

        // The server answers a handshake (a wrong token, so no control segment is needed).
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(server.socketPath()))) {
            FlatBufferBuilder b = new FlatBufferBuilder(128);
            int token = Hello.createTokenVector(b, new byte[16]);
            Hello.startHello(b);
            Hello.addProtocolVersion(b, ProtocolVersion.Current);
            Hello.addToken(b, token);
            b.finish(Hello.endHello(b));
            ByteBuffer payload = b.dataBuffer();
            ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            head.putInt(payload.remaining()).flip();
            ch.write(new ByteBuffer[] {head, payload});
            head.clear();
            while (head.hasRemaining() && ch.read(head) >= 0) {
                // read the length
            }
            ByteBuffer body = ByteBuffer.allocate(head.getInt(0)).order(ByteOrder.LITTLE_ENDIAN);
            while (body.hasRemaining() && ch.read(body) >= 0) {
                // read the Welcome
            }
            body.flip();
            String error = Welcome.getRootAsWelcome(body).error();
            check("bad token".equals(error), "the hosted server refuses a wrong token: " + error);
        }

        SparkSession spark = SparkSession.builder().master("local[2]").appName("gatun-hosted")
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            long sum = spark.range(0, 1000, 1, 4).selectExpr("sum(id) AS s").first().getLong(0);
            check(sum == 499_500L, "Spark runs a job beside the server: sum = " + sum);
            String logging = org.slf4j.LoggerFactory.getILoggerFactory().getClass().getName();
            check(!logging.contains("NOP"), "Spark keeps its own logging: " + logging);
        } finally {
            spark.stop();
        }
        server.close();
        check(!java.nio.file.Files.exists(server.socketPath()), "close() removed the socket");
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            System.out.println("FAILED " + what);
            System.out.flush();
            Runtime.getRuntime().halt(1);
        }
        System.out.println("ok " + what);
    }
}
