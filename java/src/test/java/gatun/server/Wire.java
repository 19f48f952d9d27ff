package gatun.server;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import gatun.protocol.Request;
import gatun.protocol.Response;
import gatun.protocol.Value;
import gatun.protocol.ValueKind;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test-side twin of the Python client: builds Requests and reads Responses. */
public final class Wire {
    private Wire() {
    }

    /** An object reference argument. */
    public record Ref(long id) {
    }

    /** A type-hinted argument. */
    public record Hint(Object value, String hint) {
    }

    /** A request under construction. */
    public static final class Req {
        int action;
        public long objectId;
        public String className;
        public String name;
        Object[] args = new Object[0];
        long[] release = new long[0];
        boolean asRef;
        public List<Req> batch = new ArrayList<>();
        public boolean stopOnError;

        public Req args(Object... a) {
            this.args = a;
            return this;
        }

        public Req release(long... ids) {
            this.release = ids;
            return this;
        }

        public Req asRef() {
            this.asRef = true;
            return this;
        }

        public byte[] bytes() {
            FlatBufferBuilder b = new FlatBufferBuilder(256);
            b.finish(build(b));
            return b.sizedByteArray();
        }

        int build(FlatBufferBuilder b) {
            int cn = className == null ? 0 : b.createString(className);
            int nm = name == null ? 0 : b.createString(name);
            int[] av = new int[args.length];
            for (int i = 0; i < args.length; i++) {
                av[i] = value(b, args[i]);
            }
            int argsVec = Request.createArgsVector(b, av);
            int rel = Request.createReleaseIdsVector(b, release);
            int[] items = new int[batch.size()];
            for (int i = 0; i < items.length; i++) {
                items[i] = batch.get(i).build(b);
            }
            int bv = Request.createBatchVector(b, items);
            Request.startRequest(b);
            Request.addAction(b, action);
            Request.addObjectId(b, objectId);
            if (cn != 0) Request.addClassName(b, cn);
            if (nm != 0) Request.addName(b, nm);
            Request.addArgs(b, argsVec);
            Request.addReleaseIds(b, rel);
            Request.addReturnObjectRef(b, asRef);
            Request.addBatch(b, bv);
            Request.addStopOnError(b, stopOnError);
            return Request.endRequest(b);
        }
    }

    public static Req create(String cls, Object... args) {
        Req r = new Req();
        r.action = Action.CreateObject;
        r.className = cls;
        return r.args(args);
    }

    public static Req call(long id, String name, Object... args) {
        Req r = new Req();
        r.action = Action.InvokeMethod;
        r.objectId = id;
        r.name = name;
        return r.args(args);
    }

    public static Req callStatic(String cls, String name, Object... args) {
        Req r = new Req();
        r.action = Action.InvokeStaticMethod;
        r.className = cls;
        r.name = name;
        return r.args(args);
    }

    public static Req of(int action) {
        Req r = new Req();
        r.action = action;
        return r;
    }

    public static int value(FlatBufferBuilder b, Object v) {
        if (v instanceof Hint) {
            Hint h = (Hint) v;
            int inner = value(b, h.value());
            // re-encode with the hint: simplest is to copy the scalar fields
            int hint = b.createString(h.hint());
            Object x = h.value();
            int s = x instanceof String ? b.createString((String) x) : 0;
            Value.startValue(b);
            if (x instanceof Integer || x instanceof Long) {
                Value.addKind(b, ValueKind.Int);
                Value.addI(b, ((Number) x).longValue());
            } else if (x instanceof Double) {
                Value.addKind(b, ValueKind.Double);
                Value.addD(b, (Double) x);
            } else if (x instanceof String) {
                Value.addKind(b, ValueKind.String);
                Value.addS(b, s);
            } else if (x instanceof Ref) {
                Value.addKind(b, ValueKind.Object);
                Value.addObjectId(b, ((Ref) x).id());
            }
            Value.addTypeHint(b, hint);
            assert inner >= 0;
            return Value.endValue(b);
        }
        if (v == null) {
            Value.startValue(b);
            Value.addKind(b, ValueKind.Null);
            return Value.endValue(b);
        }
        if (v instanceof Ref) {
            Value.startValue(b);
            Value.addKind(b, ValueKind.Object);
            Value.addObjectId(b, ((Ref) v).id());
            return Value.endValue(b);
        }
        if (v instanceof List || v instanceof Map) {
            boolean isMap = v instanceof Map;
            List<Object> keys = new ArrayList<>();
            List<Object> vals = new ArrayList<>();
            if (isMap) {
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    keys.add(e.getKey());
                    vals.add(e.getValue());
                }
            } else {
                vals.addAll((List<?>) v);
            }
            int[] kv = keys.stream().mapToInt(k -> value(b, k)).toArray();
            int[] iv = vals.stream().mapToInt(k -> value(b, k)).toArray();
            int kvec = Value.createKeysVector(b, kv);
            int ivec = Value.createItemsVector(b, iv);
            Value.startValue(b);
            Value.addKind(b, isMap ? ValueKind.Map : ValueKind.List);
            if (isMap) Value.addKeys(b, kvec);
            Value.addItems(b, ivec);
            return Value.endValue(b);
        }
        // scalars and strings: reuse the server's encoder (no registry needed)
        return ValueCodec.encode(b, v, null, 0);
    }

    /** A decoded Response: value or error. */
    public static final class Result {
        public Object value;
        public String errorClass;
        public String errorMessage;
        public String stackTrace;
        public List<Result> batch = new ArrayList<>();

        public boolean ok() {
            return errorClass == null;
        }

        public long id() {
            return ((Ref) value).id();
        }

        @Override
        public String toString() {
            return ok() ? String.valueOf(value) : errorClass + ": " + errorMessage;
        }
    }

    public static Result read(ByteBuffer buf) {
        return read(Response.getRootAsResponse(buf));
    }

    static Result read(Response r) {
        Result out = new Result();
        if (r.error() != null) {
            out.errorClass = r.error().className();
            out.errorMessage = r.error().message();
            out.stackTrace = r.error().stackTrace();
        }
        if (r.value() != null) {
            out.value = decode(r.value());
        }
        for (int i = 0; i < r.batchLength(); i++) {
            out.batch.add(read(r.batch(i)));
        }
        return out;
    }

    static Object decode(Value v) {
        switch (v.kind()) {
            case ValueKind.Null: return null;
            case ValueKind.Bool: return v.b();
            case ValueKind.Int: return v.i();
            case ValueKind.Double: return v.d();
            case ValueKind.Char: return (char) v.i();
            case ValueKind.String: return v.s();
            case ValueKind.Object: return new Ref(v.objectId());
            case ValueKind.List: {
                List<Object> l = new ArrayList<>();
                for (int i = 0; i < v.itemsLength(); i++) l.add(decode(v.items(i)));
                return l;
            }
            case ValueKind.Map: {
                Map<Object, Object> m = new LinkedHashMap<>();
                for (int i = 0; i < v.itemsLength(); i++) m.put(decode(v.keys(i)), decode(v.items(i)));
                return m;
            }
            case ValueKind.Bytes: {
                byte[] d = new byte[v.dataLength()];
                v.dataAsByteBuffer().get(d);
                return d;
            }
            case ValueKind.Array: {
                if (v.dataLength() > 0 || v.itemsLength() == 0) {
                    byte[] d = new byte[v.dataLength()];
                    if (d.length > 0) v.dataAsByteBuffer().get(d);
                    return "array(" + v.elementType() + "," + d.length + " bytes)";
                }
                List<Object> l = new ArrayList<>();
                for (int i = 0; i < v.itemsLength(); i++) l.add(decode(v.items(i)));
                return l;
            }
            default:
                throw new IllegalStateException("kind " + v.kind());
        }
    }
}
