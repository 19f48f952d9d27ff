package gatun.spark;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;

/**
 * A root as one Arrow IPC record-batch message, the bytes Spark's own
 * {@code ArrowConverters} writes and {@link IpcBatches#load} reads. Runs on
 * executors too ({@link ExecutorJar}).
 */
final class IpcMessage {
    /** Room for the message's header beside its body, so the stream never regrows. */
    private static final int HEADER_ROOM = 4096;

    private IpcMessage() {
    }

    /**
     * @param root the batch (left open)
     * @return its record-batch message
     */
    static byte[] of(VectorSchemaRoot root) {
        try (ArrowRecordBatch batch = new VectorUnloader(root).getRecordBatch()) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(
                    (int) Math.min(Integer.MAX_VALUE - 8, batch.computeBodyLength() + HEADER_ROOM));
            MessageSerializer.serialize(new WriteChannel(Channels.newChannel(bytes)), batch);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
    }
}
