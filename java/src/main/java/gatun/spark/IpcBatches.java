package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.util.List;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.execution.arrow.ArrowWriter;
import org.apache.spark.sql.vectorized.ArrowColumnVector;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * Arrow IPC record-batch messages, the form in which Spark's own Arrow paths
 * move batches between JVMs ({@code ArrowConverters}): tables cut into messages
 * small enough for a task, and messages loaded back into roots.
 */
final class IpcBatches {
    /** Largest message we cut (tasks must stay well under spark.rpc.message.maxSize). */
    static final long MAX_MESSAGE_BYTES = 32L << 20;

    private IpcBatches() {
    }

    /**
     * Serialises a table as record-batch messages of at most about
     * {@link #MAX_MESSAGE_BYTES}, laid out as Spark loads them: when the
     * table's buffers do not line up with Spark's Arrow schema for its columns
     * (a large string where Spark expects a string, say), its rows are first
     * rewritten with Spark's {@link ArrowWriter}.
     *
     * @param root the table (left open)
     * @param expected Spark's Arrow schema for the table's columns in this session
     * @param minPieces messages to cut at least (as rows allow)
     * @param out where the messages go
     */
    static void cut(VectorSchemaRoot root, Schema expected, int minPieces, List<byte[]> out) {
        if (SparkSchemas.sameLayout(root.getSchema().getFields(), expected.getFields())) {
            cutLaidOut(root, minPieces, out);
            return;
        }
        try (VectorSchemaRoot conformed = conform(root, expected)) {
            cutLaidOut(conformed, minPieces, out);
        }
    }

    private static void cutLaidOut(VectorSchemaRoot root, int minPieces, List<byte[]> out) {
        int rows = root.getRowCount();
        long bySize = (Parked.bytes(root) + MAX_MESSAGE_BYTES - 1) / MAX_MESSAGE_BYTES;
        int pieces = (int) Math.max(1, Math.min(Math.max(rows, 1), Math.max(bySize, minPieces)));
        if (pieces == 1) {
            out.add(IpcMessage.of(root));
            return;
        }
        for (int p = 0; p < pieces; p++) {
            int start = (int) ((long) rows * p / pieces);
            int end = (int) ((long) rows * (p + 1) / pieces);
            try (VectorSchemaRoot slice = root.slice(start, end - start)) {
                out.add(IpcMessage.of(slice));
            }
        }
    }

    /** Rewrites rows into Spark's layout, through Spark's own reader and writer. */
    private static VectorSchemaRoot conform(VectorSchemaRoot root, Schema expected) {
        List<FieldVector> vectors = root.getFieldVectors();
        ColumnVector[] columns = new ColumnVector[vectors.size()];
        for (int i = 0; i < columns.length; i++) {
            columns[i] = new ArrowColumnVector(vectors.get(i)); // never closed: it would close the table's vector
        }
        ColumnarBatch batch = new ColumnarBatch(columns, root.getRowCount());
        VectorSchemaRoot out = VectorSchemaRoot.create(expected, ArrowBridge.allocator());
        try {
            ArrowWriter writer = ArrowWriter.create(out);
            for (int i = 0; i < root.getRowCount(); i++) {
                writer.write(batch.getRow(i));
            }
            writer.finish();
            return out;
        } catch (Throwable e) {
            out.close();
            throw e;
        }
    }

    /**
     * Loads one record-batch message into a new root on {@link ArrowBridge#allocator()}.
     *
     * @param message the message's bytes
     * @param schema the batch's schema
     * @return the root (the caller owns it)
     * @throws IOException if the message is not a record batch of {@code schema}
     */
    static VectorSchemaRoot load(byte[] message, Schema schema) throws IOException {
        VectorSchemaRoot root = VectorSchemaRoot.create(schema, ArrowBridge.allocator());
        try (ReadChannel in = new ReadChannel(Channels.newChannel(new ByteArrayInputStream(message)));
                ArrowRecordBatch batch = MessageSerializer.deserializeRecordBatch(in, ArrowBridge.allocator())) {
            if (batch == null) {
                throw new IOException("an empty Arrow IPC message where a record batch was expected");
            }
            new VectorLoader(root).load(batch);
            return root;
        } catch (Throwable e) {
            root.close();
            throw e;
        }
    }

    /**
     * Refuses a dictionary-encoded column, by name.
     *
     * @param schema the data's schema
     */
    static void refuseDictionaries(Schema schema) {
        schema.getFields().forEach(f -> {
            if (f.getDictionary() != null) {
                throw new IllegalArgumentException("column '" + f.getName() + "' is dictionary-encoded: "
                        + "decode it first (Spark reads plain Arrow columns)");
            }
        });
    }
}
