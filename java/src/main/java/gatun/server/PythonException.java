package gatun.server;

/**
 * Thrown from a Python callback's proxy method when the Python function
 * raised: the message is {@code "<python type>: <message>"}, and the Python
 * traceback is kept in {@link #pythonTraceback()}.
 *
 * <p>If it propagates out of the Java call that Python made, Python sees it
 * as a {@code gatun.JavaException} whose {@code java_class} is this class.
 */
public final class PythonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String pythonType;
    private final String pythonTraceback;

    /**
     * @param pythonType the Python exception's qualified type name, e.g. {@code ValueError}
     * @param message the Python exception's message ({@code str(e)})
     * @param pythonTraceback the formatted Python traceback, possibly empty
     */
    public PythonException(String pythonType, String message, String pythonTraceback) {
        super(message == null || message.isEmpty() ? pythonType : pythonType + ": " + message);
        this.pythonType = pythonType;
        this.pythonTraceback = pythonTraceback == null ? "" : pythonTraceback;
    }

    /** @return the Python exception's qualified type name */
    public String pythonType() {
        return pythonType;
    }

    /** @return the formatted Python traceback (may be empty) */
    public String pythonTraceback() {
        return pythonTraceback;
    }
}
