package gatun.server.arrow;

import java.util.List;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A batch Python sent, read and validated but not yet loaded into vectors:
 * its IPC record batch and the dictionary batches that came with it, over
 * slices of Python's arena regions. It holds the only references to those
 * regions, so closing it (or loading it and closing the vectors) releases them.
 *
 * @param schema the batch's schema in message format
 * @param batch the record batch
 * @param dictionaries the dictionaries it carried, in schema order
 */
public record StagedBatch(Schema schema, ArrowRecordBatch batch, List<ArrowDictionaryBatch> dictionaries)
        implements AutoCloseable {
    @Override
    public void close() {
        batch.close();
        for (ArrowDictionaryBatch d : dictionaries) {
            d.close();
        }
    }
}
