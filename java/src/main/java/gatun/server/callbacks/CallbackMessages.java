package gatun.server.callbacks;

import static gatun.server.dispatch.RequestReader.action;
import static gatun.server.dispatch.RequestReader.argsLength;
import static gatun.server.dispatch.RequestReader.guard;
import static gatun.server.dispatch.RequestReader.malformed;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import gatun.protocol.CallbackCall;
import gatun.protocol.JavaError;
import gatun.protocol.Request;
import gatun.protocol.Response;
import gatun.protocol.Value;
import gatun.server.Metrics;
import gatun.server.ObjectRegistry;
import gatun.server.ProtocolException;
import gatun.server.PythonException;
import gatun.server.UnknownObjectException;
import gatun.server.ValueCodec.DecodeContext;
import gatun.server.ValueCodec;
import gatun.server.reflect.ClassLoading;
import gatun.server.reflect.ClassPolicy;
import java.nio.ByteBuffer;

/**
 * The messages of a callback on the wire: the call Java sends Python (a
 * Response whose {@code callback} names the callback, method and arguments),
 * the reply Python sends back (a {@code CallbackReply} request holding the
 * result or the Python exception), and the reference to a callback's proxy.
 */
public final class CallbackMessages {
    /** What {@link #decodeReply} returns for a message that is not a CallbackReply. */
    public static final Object NOT_A_REPLY = new Object();

    private final ObjectRegistry registry;
    private final ClassPolicy policy;
    private final Metrics metrics;

    /**
     * @param registry the session's objects (arguments and results are converted through it)
     * @param policy the class policy applied to classes a reply names
     * @param metrics server counters (a reply counts as a request)
     */
    public CallbackMessages(ObjectRegistry registry, ClassPolicy policy, Metrics metrics) {
        this.registry = registry;
        this.policy = policy;
        this.metrics = metrics;
    }

    /** The reference to a callback's proxy (registered under {@code id}), named by its interface. */
    public static int proxyReference(FlatBufferBuilder b, long id, String iface) {
        int cn = b.createString(iface);
        Value.startValue(b);
        Value.addKind(b, gatun.protocol.ValueKind.Object);
        Value.addObjectId(b, id);
        Value.addClassName(b, cn);
        return Value.endValue(b);
    }

    /**
     * Encodes a callback call: a Response whose {@code callback} names the
     * callback, the method and its arguments (converted as results are).
     *
     * @param b a cleared builder
     * @param callbackId the callback
     * @param m the interface method called
     * @param args its arguments
     * @return the Response offset
     */
    public int encodeCall(FlatBufferBuilder b, long callbackId, java.lang.reflect.Method m, Object[] args) {
        int[] values = new int[args.length];
        for (int i = 0; i < args.length; i++) {
            values[i] = ValueCodec.encodeResult(b, args[i], registry, false);
        }
        int vec = CallbackCall.createArgsVector(b, values);
        int method = b.createString(m.getName());
        int iface = b.createString(m.getDeclaringClass().getName());
        int call = CallbackCall.createCallbackCall(b, callbackId, method, iface, vec);
        Response.startResponse(b);
        Response.addCallback(b, call);
        return Response.endResponse(b);
    }

    /**
     * Reads the message Python sent while a callback runs.
     *
     * @param request the message bytes (position 0, limit = length)
     * @return the callback's result, or {@link #NOT_A_REPLY} if the message is
     *     a request of its own (a call the Python function makes)
     * @throws PythonException if the Python function raised
     * @throws ProtocolException if the reply is malformed
     */
    public Object decodeReply(ByteBuffer request) {
        if (request.remaining() < 8) {
            throw new ProtocolException("a callback reply of " + request.remaining() + " bytes is too short");
        }
        Request r = guard(() -> Request.getRootAsRequest(request));
        if (action(r) != Action.CallbackReply) {
            return NOT_A_REPLY;
        }
        metrics.requests.increment();
        JavaError e = guard(r::error);
        if (e != null) {
            throw new PythonException(guard(e::className), guard(e::message), guard(e::stackTrace));
        }
        if (argsLength(r) == 0) {
            return null;
        }
        DecodeContext ctx = new DecodeContext(registry, ClassLoading.loader(), policy, request.remaining() / 4 + 16);
        try {
            return ValueCodec.decode(r.args(new Value(), 0), ctx, 0);
        } catch (UnknownObjectException | ProtocolException ex) {
            throw ex;
        } catch (RuntimeException | StackOverflowError ex) {
            throw malformed(ex);
        }
    }
}
