package gatun.spark;

import java.io.IOException;

/**
 * A result's job failed: thrown by a {@link PartitionReader}'s source with
 * the exception Spark's job failed with as its cause, which the reader keeps
 * ({@link SparkBridge#failureOf}) so that Python can raise the exception
 * PySpark would raise for it.
 */
final class ResultFailure extends IOException {
    private static final long serialVersionUID = 1L;

    /**
     * @param what what failed (a partition, the job)
     * @param cause the exception Spark's job failed with
     */
    ResultFailure(String what, Throwable cause) {
        super("gatun.spark: " + what + " failed: " + cause, cause);
    }
}
