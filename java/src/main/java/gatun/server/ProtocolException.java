package gatun.server;

/**
 * A request that could not be decoded or understood: bad length, a buffer that
 * fails FlatBuffers decoding, an unknown action. Reported to Python as a
 * {@code JavaError} with this class name; the lane keeps serving.
 */
public final class ProtocolException extends RuntimeException {
    /**
     * @param message what was wrong with the request
     */
    public ProtocolException(String message) {
        super(message);
    }

    /**
     * @param message what was wrong with the request
     * @param cause the decoding failure
     */
    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
