package gatun.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;

/**
 * Where an executor's task puts its partition's record-batch messages: pushed
 * straight to the driver's {@link ResultPort} when it accepts them, so they
 * cross once, from Arrow's buffers to the socket and from the socket into the
 * arena; else gathered and returned as the task's result, which Spark carries
 * to the driver itself (through the executor's block manager for anything
 * over a megabyte, at a fraction of the socket's speed). Runs on executors
 * ({@link ExecutorJar}).
 *
 * <p>The stream: a header (magic, secret, result, partition), the driver's
 * one-byte answer, the messages as in an Arrow IPC stream without its schema,
 * the stream's end marker, then the number of messages sent; the driver
 * parks the partition and acknowledges with one byte, and only then does the
 * task succeed. A stream cut short parks nothing.
 */
final class PartitionMessages implements AutoCloseable {
    /** "GTNR": a gatun result stream. */
    static final int MAGIC = 0x47544e52;
    /** The driver's answer: it takes the stream (or, at the end, has parked it). */
    static final int ACCEPTED = 1;
    private static final int CONNECT_MILLIS = 5_000;
    /**
     * Driver ports this executor could not connect to: a firewall between
     * executors and the driver costs each executor one connect timeout, not
     * one per task.
     */
    private static final Set<String> UNREACHABLE = ConcurrentHashMap.newKeySet();
    /** How long the driver may take to answer the header or to park what it read. */
    private static final int ANSWER_MILLIS = 120_000;

    /**
     * Where a result's partitions are pushed.
     *
     * @param host the driver's host, as executors reach it
     * @param port the {@link ResultPort}'s port
     * @param secret what proves a stream comes from this application's tasks
     * @param resultId the result the partitions belong to
     */
    record Target(String host, int port, byte[] secret, long resultId) implements Serializable {
    }

    private final int partition;
    private final List<byte[]> gathered = new ArrayList<>();
    private SocketChannel channel;
    private WriteChannel out;
    private long sent;

    private PartitionMessages(int partition) {
        this.partition = partition;
    }

    /**
     * @param target where to push, or null to gather
     * @param partition the task's partition
     * @return the messages' destination: pushed if the driver accepted the
     *     stream, else gathered
     */
    static PartitionMessages open(Target target, int partition) {
        PartitionMessages messages = new PartitionMessages(partition);
        if (target != null) {
            messages.channel = connect(target, partition);
            messages.out = messages.channel == null ? null : new WriteChannel(messages.channel);
        }
        return messages;
    }

    /** @return a channel the driver accepted the stream on, or null (it is unreachable, busy or refused) */
    private static SocketChannel connect(Target target, int partition) {
        String where = target.host() + ":" + target.port();
        if (UNREACHABLE.contains(where)) {
            return null;
        }
        SocketChannel ch = null;
        try {
            ch = SocketChannel.open();
            try {
                ch.socket().connect(new InetSocketAddress(target.host(), target.port()), CONNECT_MILLIS);
            } catch (IOException e) {
                UNREACHABLE.add(where);
                throw e;
            }
            ch.socket().setSoTimeout(ANSWER_MILLIS);
            ch.socket().setTcpNoDelay(true);
            ByteBuffer header = header(target, partition);
            while (header.hasRemaining()) {
                ch.write(header);
            }
            if (ch.socket().getInputStream().read() == ACCEPTED) {
                return ch;
            }
        } catch (IOException e) {
            // the task's result carries the messages instead
        }
        closeQuietly(ch);
        return null;
    }

    /**
     * @param target where the stream goes
     * @param partition the task's partition
     * @return the stream's header, ready to write
     */
    static ByteBuffer header(Target target, int partition) {
        ByteBuffer header = ByteBuffer.allocate(4 + 4 + target.secret().length + 8 + 4);
        return header.putInt(MAGIC).putInt(target.secret().length).put(target.secret()).putLong(target.resultId())
                .putInt(partition).flip();
    }

    /**
     * @param message a record-batch message
     * @throws IOException if the push failed midway (the task fails; a retry pushes again)
     */
    void add(byte[] message) throws IOException {
        if (out == null) {
            gathered.add(message);
        } else {
            out.write(message);
            sent++;
        }
    }

    /**
     * @param root a batch (left open; its buffers may be reused once this returns)
     * @throws IOException if the push failed midway
     */
    void add(VectorSchemaRoot root) throws IOException {
        if (out == null) {
            gathered.add(IpcMessage.of(root));
            return;
        }
        try (ArrowRecordBatch batch = new VectorUnloader(root).getRecordBatch()) {
            MessageSerializer.serialize(out, batch); // from Arrow's buffers to the socket, no copy on the heap
        }
        sent++;
    }

    /**
     * Ends the partition.
     *
     * @return the gathered messages, or null once the driver has parked the pushed ones
     * @throws IOException if the driver did not confirm it parked them
     */
    byte[][] result() throws IOException {
        if (out == null) {
            return gathered.toArray(new byte[0][]);
        }
        ArrowStreamWriter.writeEndOfStream(out, IpcOption.DEFAULT);
        out.write(ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(0, sent));
        InputStream answer = channel.socket().getInputStream();
        if (answer.read() != ACCEPTED) {
            throw new IOException("gatun.spark: the driver did not confirm that it received partition " + partition
                    + " of the result");
        }
        return null;
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(SocketChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                // nothing more to release
            }
        }
    }
}
