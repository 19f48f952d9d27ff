package gatun.server.callbacks;

import static org.junit.jupiter.api.Assertions.fail;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import gatun.protocol.JavaError;
import gatun.protocol.Request;
import gatun.server.Metrics;
import gatun.server.ObjectRegistry;
import gatun.server.ProtocolException;
import gatun.server.PythonException;
import gatun.server.UnknownObjectException;
import gatun.server.Wire;
import gatun.server.reflect.ClassPolicy;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Randomized check of the decoder of callback replies, bytes Python writes:
 * random and mutated messages decode to a value, to "not a reply", or fail
 * with one of the documented exceptions; nothing else escapes and nothing hangs.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CallbackReplyFuzzTest {
    private final ObjectRegistry registry = new ObjectRegistry(1000);
    private final CallbackMessages messages =
            new CallbackMessages(registry, new ClassPolicy("com.example.denied."), new Metrics());

    private static byte[] reply(boolean error) {
        FlatBufferBuilder b = new FlatBufferBuilder(256);
        int err = 0;
        int args = 0;
        if (error) {
            err = JavaError.createJavaError(b, b.createString("ValueError"), b.createString("boom"),
                    b.createString("Traceback ...\n"));
        } else {
            args = Request.createArgsVector(b, new int[] {Wire.value(b, "a string result")});
        }
        Request.startRequest(b);
        Request.addAction(b, Action.CallbackReply);
        if (err != 0) {
            Request.addError(b, err);
        }
        if (args != 0) {
            Request.addArgs(b, args);
        }
        b.finish(Request.endRequest(b));
        return b.sizedByteArray();
    }

    private void decode(byte[] bytes, String what) {
        try {
            messages.decodeReply(ByteBuffer.wrap(bytes));
        } catch (PythonException | ProtocolException | UnknownObjectException | SecurityException e) {
            // documented outcomes of a bad or failed reply
        } catch (RuntimeException | Error e) {
            fail(what + " escaped as " + e, e);
        }
    }

    @Test
    void randomBytesNeverEscapeTheDecoder() {
        Random rnd = new Random(11);
        for (int i = 0; i < 5000; i++) {
            byte[] junk = new byte[rnd.nextInt(300)];
            rnd.nextBytes(junk);
            decode(junk, "random message " + i);
        }
    }

    @Test
    void mutatedRepliesNeverEscapeTheDecoder() {
        Random rnd = new Random(12);
        byte[][] good = {reply(false), reply(true)};
        for (int i = 0; i < 5000; i++) {
            byte[] m = good[i % 2].clone();
            for (int k = 1 + rnd.nextInt(4); k > 0; k--) {
                m[rnd.nextInt(m.length)] = (byte) rnd.nextInt(256);
            }
            decode(m, "mutated reply " + i);
        }
    }
}
