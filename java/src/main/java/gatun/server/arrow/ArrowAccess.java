package gatun.server.arrow;

/**
 * Whether Arrow Java can reach native memory in this JVM. Arrow's
 * {@code MemoryUtil} reads {@code java.nio.Buffer.address}, which a JVM
 * started without {@code --add-opens=java.base/java.nio=ALL-UNNAMED} refuses;
 * the first allocation then fails deep inside a handshake. Hosts check this
 * when the server starts, and say which flag is missing.
 */
public final class ArrowAccess {
    /** The flag Arrow Java needs, exactly as the JVM takes it. */
    public static final String REQUIRED_FLAG = "--add-opens=java.base/java.nio=ALL-UNNAMED";

    private ArrowAccess() {
    }

    /**
     * @return null if Arrow Java can allocate here, else what is wrong and the flag that fixes it
     */
    public static String problem() {
        try {
            Class.forName("org.apache.arrow.memory.util.MemoryUtil", true, ArrowAccess.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return "Arrow Java is not on the class path (org.apache.arrow.memory.util.MemoryUtil is missing)";
        } catch (LinkageError | RuntimeException e) {
            return "Arrow Java cannot reach native memory in this JVM (" + rootCause(e)
                    + "); start the JVM with " + REQUIRED_FLAG;
        }
        // Arrow 19 initialises without the flag, then fails on the first
        // address it needs (every shared-memory segment is one).
        try {
            org.apache.arrow.memory.util.MemoryUtil.getByteBufferAddress(java.nio.ByteBuffer.allocateDirect(8));
            return null;
        } catch (LinkageError | RuntimeException e) {
            return "Arrow Java cannot reach native memory in this JVM (" + rootCause(e)
                    + "); start the JVM with " + REQUIRED_FLAG;
        }
    }

    private static String rootCause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.toString();
    }
}
