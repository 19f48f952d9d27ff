package gatun.server.arrow;

/**
 * Where a {@link BridgeArrowReader} pulls its next batch from: Python's side
 * of a stream, implemented by a Python callback. {@link #next} sends one batch
 * into the reader that calls it (a nested request) and says whether it did;
 * {@link #close} tells the producer the reader is closed before the stream's
 * end, so it can let go of what it still holds.
 */
public interface BatchSource {
    /** @return true if a batch was offered to the pulling reader, false at the end of the stream */
    boolean next();

    /** The reader was closed before the end of the stream. */
    void close();
}
