package gatun.server.dispatch;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.JavaError;
import gatun.protocol.Response;
import gatun.server.Metrics;
import gatun.server.PythonException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.UndeclaredThrowableException;

/**
 * Builds the {@link Response}s the dispatcher answers with: a value, a batch's
 * list of replies, or a {@code JavaError} (counted in the server's metrics)
 * carrying the user's exception unwrapped from reflection.
 */
public final class Responses {
    private final Metrics metrics;

    /** @param metrics server counters; every error response counts one error */
    public Responses(Metrics metrics) {
        this.metrics = metrics;
    }

    /** A Response holding {@code value}. */
    static int value(FlatBufferBuilder b, int value) {
        Response.startResponse(b);
        Response.addValue(b, value);
        return Response.endResponse(b);
    }

    /** A batch Response listing the first {@code n} replies of {@code items} (so the array can be reused). */
    static int batch(FlatBufferBuilder b, int[] items, int n) {
        b.startVector(4, n, 4);
        for (int i = n - 1; i >= 0; i--) {
            b.addOffset(items[i]);
        }
        int vec = b.endVector();
        Response.startResponse(b);
        Response.addBatch(b, vec);
        return Response.endResponse(b);
    }

    /**
     * Encodes an error response for a throwable, unwrapping reflection wrappers so
     * Python sees the user's exception.
     *
     * @param b the builder
     * @param t the failure
     * @return the Response offset
     */
    public int error(FlatBufferBuilder b, Throwable t) {
        Throwable e = t;
        while ((e instanceof InvocationTargetException || e instanceof UndeclaredThrowableException)
                && e.getCause() != null) {
            e = e.getCause();
        }
        StringWriter sw = new StringWriter();
        e.printStackTrace(new PrintWriter(sw));
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof PythonException && !((PythonException) c).pythonTraceback().isEmpty()) {
                sw.append("Python traceback of the callback:\n").append(((PythonException) c).pythonTraceback());
                break;
            }
        }
        String message = e.getMessage();
        return error(b, e.getClass().getName(), message == null ? e.toString() : message, sw.toString());
    }

    /**
     * Encodes an error response.
     *
     * @param b the builder
     * @param className exception class name
     * @param message message
     * @param stackTrace stack trace text
     * @return the Response offset
     */
    public int error(FlatBufferBuilder b, String className, String message, String stackTrace) {
        metrics.errors.increment();
        int cn = b.createString(className);
        int msg = b.createString(message);
        int st = b.createString(stackTrace);
        int err = JavaError.createJavaError(b, cn, msg, st);
        Response.startResponse(b);
        Response.addError(b, err);
        return Response.endResponse(b);
    }
}
