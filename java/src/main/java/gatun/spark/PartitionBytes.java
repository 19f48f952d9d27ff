package gatun.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import scala.collection.Iterator;
import scala.runtime.AbstractFunction1;

/**
 * The one piece of gatun that runs on executors: a partition's Arrow IPC
 * messages gathered into an array, which Spark sends to the driver as the
 * partition's result. {@link ExecutorJar} ships this class alone to the
 * executors; it refers to nothing but the JDK and Scala.
 */
final class PartitionBytes extends AbstractFunction1<Iterator<byte[]>, byte[][]> implements Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public byte[][] apply(Iterator<byte[]> messages) {
        List<byte[]> all = new ArrayList<>();
        while (messages.hasNext()) {
            all.add(messages.next());
        }
        return all.toArray(new byte[0][]);
    }
}
