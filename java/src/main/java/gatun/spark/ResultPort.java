package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageMetadataResult;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;

/**
 * The driver's end of {@link PartitionMessages}: a TCP port on the driver's
 * host to which executors push a result's partitions, read from the socket
 * straight into roots on {@link ArrowBridge#allocator()} and parked
 * ({@link Parked}). Spark's own way, a task result of that size, goes through
 * the executor's block manager and several copies on the driver's heap, and
 * moved 150 MB in about 750 ms here where the socket takes 65 ms.
 *
 * <p>Streams must present the port's secret (sent to executors inside the
 * tasks, as Spark sends everything else a task needs) and name a result the
 * driver expects; the header has a deadline, the readers are bounded (a
 * stream refused for want of one is carried by Spark instead), and a
 * result's streams are closed when it is forgotten. Pushing is off when
 * Spark encrypts its traffic ({@code spark.network.crypto.enabled},
 * {@code spark.ssl.enabled}), which this port does not, and when the
 * session sets {@value #ENABLED} to false.
 */
final class ResultPort {
    /** The session setting that turns pushing off. */
    static final String ENABLED = "spark.gatun.pushResults";
    private static final int HEADER_MILLIS = 10_000;
    private static final int MAX_SECRET = 64;
    private static final int MAX_READERS = 4 * Runtime.getRuntime().availableProcessors();
    private static final Map<String, ResultPort> PORTS = new ConcurrentHashMap<>();
    private static final Map<Long, Expected> EXPECTED = new ConcurrentHashMap<>();

    /** A result whose partitions may arrive, and the streams reading them now. */
    private record Expected(Schema schema, Set<SocketChannel> reading) {
    }

    private final String host;
    private final ServerSocketChannel server;
    private final byte[] secret = new byte[32];
    private final ThreadPoolExecutor readers = new ThreadPoolExecutor(0, MAX_READERS, 30, TimeUnit.SECONDS,
            new SynchronousQueue<>(), r -> daemon(r, "gatun-spark-result-reader"));

    private ResultPort(String host, String bindAddress) throws IOException {
        this.host = host;
        new SecureRandom().nextBytes(secret);
        server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress(bindAddress, 0));
        daemon(this::accept, "gatun-spark-result-port").start();
    }

    /**
     * Expects a result's partitions.
     *
     * @param sc the result's context
     * @param session the session's settings ({@value #ENABLED})
     * @param resultId the result
     * @param schema its batches' schema
     * @return where its tasks push, or null when they should return their
     *     messages as task results instead (pushing is off, or no port opens)
     */
    static PartitionMessages.Target expect(SparkContext sc, org.apache.spark.sql.RuntimeConfig session,
            long resultId, Schema schema) {
        SparkConf conf = sc.getConf();
        if (!Boolean.parseBoolean(session.get(ENABLED, "true"))
                || conf.getBoolean("spark.network.crypto.enabled", false)
                || conf.getBoolean("spark.ssl.enabled", false)) {
            return null;
        }
        String host = conf.get("spark.driver.host", "localhost");
        String bind = conf.get("spark.driver.bindAddress", host);
        ResultPort port;
        try {
            port = PORTS.computeIfAbsent(bind + " " + host, k -> {
                try {
                    return new ResultPort(host, bind);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        } catch (java.io.UncheckedIOException e) {
            return null; // Spark carries the results
        }
        EXPECTED.put(resultId, new Expected(schema, ConcurrentHashMap.newKeySet()));
        return new PartitionMessages.Target(port.host, port.server.socket().getLocalPort(), port.secret.clone(),
                resultId);
    }

    /**
     * Stops expecting a result: later streams for it are refused, and those
     * still reading are closed (their tasks fail, as the job is over or its
     * reader gone).
     *
     * @param resultId the result
     */
    static void forget(long resultId) {
        Expected e = EXPECTED.remove(resultId);
        if (e != null) {
            e.reading().forEach(ResultPort::closeQuietly);
        }
    }

    /**
     * @param resultId a result
     * @return how many of its streams are being read now
     */
    static int streamsReading(long resultId) {
        Expected e = EXPECTED.get(resultId);
        return e == null ? 0 : e.reading().size();
    }

    private void accept() {
        while (true) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                return; // the port is closed
            }
            try {
                readers.execute(() -> receive(ch));
            } catch (RejectedExecutionException e) {
                closeQuietly(ch); // every reader busy: the task returns its messages to Spark instead
            }
        }
    }

    /** One stream: header, answer, messages into the arena, parked, acknowledged. */
    private void receive(SocketChannel ch) {
        Expected expected = null;
        List<VectorSchemaRoot> roots = new ArrayList<>();
        try (ch) {
            ch.socket().setSoTimeout(HEADER_MILLIS); // bounds the header's reads (the socket adaptor's stream)
            DataInputStream in = new DataInputStream(ch.socket().getInputStream());
            if (in.readInt() != PartitionMessages.MAGIC) {
                return;
            }
            int length = in.readInt();
            if (length < 0 || length > MAX_SECRET) {
                return;
            }
            byte[] presented = new byte[length];
            in.readFully(presented);
            long resultId = in.readLong();
            int partition = in.readInt();
            if (!MessageDigest.isEqual(presented, secret)) {
                return;
            }
            expected = EXPECTED.get(resultId);
            if (expected == null) {
                return; // no answer: the task returns its messages to Spark, whose job is failing or done
            }
            expected.reading().add(ch);
            if (!EXPECTED.containsKey(resultId)) {
                return; // forgotten meanwhile
            }
            answer(ch);
            ReadChannel body = new ReadChannel(ch);
            long messages = 0;
            MessageMetadataResult message;
            while ((message = MessageSerializer.readMessage(body)) != null) {
                if (message.getMessage().headerType() != MessageHeader.RecordBatch) {
                    throw new IOException("a message other than a record batch");
                }
                roots.add(load(body, message, expected.schema()));
                messages++;
            }
            ByteBuffer count = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            if (body.readFully(count) != Long.BYTES || count.getLong(0) != messages) {
                throw new IOException("the stream of partition " + partition + " was cut short");
            }
            Parked.parkResult(resultId, partition, roots);
            roots = List.of();
            answer(ch);
        } catch (IOException | RuntimeException e) {
            // The stream is closed unanswered: its task fails and Spark retries it.
        } finally {
            roots.forEach(VectorSchemaRoot::close);
            if (expected != null) {
                expected.reading().remove(ch);
            }
        }
    }

    private static VectorSchemaRoot load(ReadChannel in, MessageMetadataResult message, Schema schema)
            throws IOException {
        // from the socket into the arena; the batch takes the body over (its buffers are slices of it)
        ArrowBuf body = MessageSerializer.readMessageBody(in, message.getMessageBodyLength(), ArrowBridge.allocator());
        ArrowRecordBatch batch;
        try {
            batch = MessageSerializer.deserializeRecordBatch(message, body);
        } catch (IOException | RuntimeException e) {
            body.close();
            throw e;
        }
        VectorSchemaRoot root = VectorSchemaRoot.create(schema, ArrowBridge.allocator());
        try (batch) {
            new VectorLoader(root).load(batch);
            return root;
        } catch (RuntimeException e) {
            root.close();
            throw e;
        }
    }

    private static void answer(SocketChannel ch) throws IOException {
        ByteBuffer one = ByteBuffer.wrap(new byte[] {PartitionMessages.ACCEPTED});
        while (one.hasRemaining()) {
            ch.write(one);
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing more to release
        }
    }
}
