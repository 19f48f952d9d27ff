package gatun.spark;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import org.apache.spark.TaskContext;
import scala.collection.Iterator;
import scala.runtime.AbstractFunction1;

/**
 * Cluster mode's task on the row path: the record-batch messages Spark's
 * {@code toArrowBatchRdd} wrote for a partition, pushed to the driver or
 * returned as the partition's result ({@link PartitionMessages}). Runs on
 * executors ({@link ExecutorJar}).
 */
final class PartitionBytes extends AbstractFunction1<Iterator<byte[]>, byte[][]> implements Serializable {
    private static final long serialVersionUID = 1L;
    private final PartitionMessages.Target target;

    /**
     * @param target where to push the messages, or null to return them
     */
    PartitionBytes(PartitionMessages.Target target) {
        this.target = target;
    }

    @Override
    public byte[][] apply(Iterator<byte[]> messages) {
        try (PartitionMessages out = PartitionMessages.open(target, TaskContext.getPartitionId())) {
            while (messages.hasNext()) {
                out.add(messages.next());
            }
            return out.result();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
