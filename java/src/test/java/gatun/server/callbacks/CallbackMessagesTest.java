package gatun.server.callbacks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import gatun.protocol.CallbackCall;
import gatun.protocol.JavaError;
import gatun.protocol.Request;
import gatun.protocol.Response;
import gatun.protocol.ValueKind;
import gatun.server.Metrics;
import gatun.server.ObjectRegistry;
import gatun.server.ProtocolException;
import gatun.server.PythonException;
import gatun.server.Wire;
import gatun.server.dispatch.Dispatcher;
import gatun.server.reflect.ClassPolicy;
import gatun.server.reflect.MethodResolver;
import java.nio.ByteBuffer;
import java.util.Comparator;
import org.junit.jupiter.api.Test;

/** The callback messages as the Dispatcher writes and reads them. */
class CallbackMessagesTest {
    private final ObjectRegistry registry = new ObjectRegistry(1000);
    private final ClassPolicy policy = new ClassPolicy("com.example.denied.");
    private final Dispatcher d = new Dispatcher(registry, new MethodResolver(policy), policy, new Metrics(), () -> 1);

    private static ByteBuffer reply(Object value, String errorType) {
        FlatBufferBuilder b = new FlatBufferBuilder(256);
        int err = 0;
        int args = 0;
        if (errorType != null) {
            err = JavaError.createJavaError(b, b.createString(errorType), b.createString("boom"),
                    b.createString("Traceback ...\n"));
        } else {
            args = Request.createArgsVector(b, new int[] {Wire.value(b, value)});
        }
        Request.startRequest(b);
        Request.addAction(b, Action.CallbackReply);
        if (err != 0) Request.addError(b, err);
        if (args != 0) Request.addArgs(b, args);
        b.finish(Request.endRequest(b));
        return ByteBuffer.wrap(b.sizedByteArray());
    }

    @Test
    void aCallbackCallNamesMethodInterfaceAndArguments() throws Exception {
        FlatBufferBuilder b = new FlatBufferBuilder(256);
        b.finish(d.callbackMessages().encodeCall(b, 7, Comparator.class.getMethod("compare", Object.class, Object.class),
                new Object[] {3, "x"}));
        CallbackCall call = Response.getRootAsResponse(b.dataBuffer()).callback();
        assertEquals(7, call.callbackId());
        assertEquals("compare", call.method());
        assertEquals("java.util.Comparator", call.interfaceName());
        assertEquals(2, call.argsLength());
        assertEquals(ValueKind.Int, call.args(0).kind());
        assertEquals("x", call.args(1).s());
    }

    @Test
    void repliesDecodeToValuesOrPythonExceptions() {
        assertEquals(42L, ((Number) d.callbackMessages().decodeReply(reply(42, null))).longValue());
        assertEquals("s", d.callbackMessages().decodeReply(reply("s", null)));
        PythonException e = assertThrows(PythonException.class, () -> d.callbackMessages().decodeReply(reply(null, "ValueError")));
        assertEquals("ValueError: boom", e.getMessage());
        assertEquals("ValueError", e.pythonType());
        assertTrue(e.pythonTraceback().startsWith("Traceback"));
        assertSame(CallbackMessages.NOT_A_REPLY, d.callbackMessages().decodeReply(ByteBuffer.wrap(Wire.of(Action.Ping).bytes())));
        assertThrows(ProtocolException.class, () -> d.callbackMessages().decodeReply(ByteBuffer.wrap(new byte[3])));
    }

    @Test
    void callbackActionsNeedASessionAndAWaitingCallback() {
        FlatBufferBuilder b = new FlatBufferBuilder(256);
        Wire.Req register = Wire.of(Action.RegisterCallback);
        register.className = "java.util.Comparator";
        b.finish(d.handle(b, ByteBuffer.wrap(register.bytes())));
        assertEquals("java.lang.UnsupportedOperationException", Wire.read(b.dataBuffer()).errorClass);
        b.clear();
        b.finish(d.handle(b, reply(1, null)));
        Wire.Result r = Wire.read(b.dataBuffer());
        assertEquals("gatun.server.ProtocolException", r.errorClass);
        assertTrue(r.toString().contains("no callback is waiting"), r::toString);
    }
}
