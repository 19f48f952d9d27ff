package gatun.server;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.ElementType;
import gatun.protocol.Value;
import gatun.protocol.ValueKind;
import gatun.server.reflect.ClassPolicy;
import gatun.server.reflect.Coercion;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts values between the wire ({@link Value}) and Java.
 *
 * <p>Wire to Java: Null, Bool, Int (int if it fits, else long), Double, Char,
 * String, Bytes (byte[]), List (ArrayList), Map (HashMap), Array (a typed Java
 * array) and Object (a registry lookup); a {@code type_hint} converts the value
 * and fixes the type overload resolution sees. Java to wire: scalars and strings
 * by value, Lists and Maps recursively, byte[] as Bytes, other primitive arrays
 * as Array, and everything else (including a top-level Object[]) as an Object
 * reference registered in the session.
 */
public final class ValueCodec {
    /** Deepest nesting decoded or encoded by value; deeper objects become references. */
    public static final int MAX_DEPTH = 64;
    /** Most elements a collection sent by value may hold: more could not fit the largest lane slot. */
    public static final int MAX_ELEMENTS = gatun.server.shm.Layout.MAX_SLOT_SIZE / 4;

    private ValueCodec() {
    }

    /**
     * A decoded argument: the Java value and the type overload resolution sees.
     * The dispatcher reuses its Args from one request to the next (see
     * {@link DispatchScratch}), so nothing may keep one past the call it was
     * decoded for.
     */
    public static final class Arg {
        /** The converted value. */
        public Object value;
        /** Primitive type for wire scalars, the hint, or the runtime class; null for null. */
        public Class<?> type;
        /** True if Python gave a type hint. */
        public boolean hinted;

        /**
         * @param value the converted value
         * @param type the type resolution sees
         * @param hinted true if it came from a type hint
         */
        public Arg(Object value, Class<?> type, boolean hinted) {
            set(value, type, hinted);
        }

        /** Rewrites this argument in place; returns this. */
        public Arg set(Object value, Class<?> type, boolean hinted) {
            this.value = value;
            this.type = type;
            this.hinted = hinted;
            return this;
        }

        /**
         * An argument typed by its runtime class (boxed scalars count as primitives).
         *
         * @param value any value
         * @return the argument
         */
        public static Arg of(Object value) {
            return new Arg(value, Coercion.naturalType(value), false);
        }

        @Override
        public String toString() {
            return type == null ? "null" : type.getName();
        }
    }

    /**
     * Per-request decoding state: the registry, the class loader and a node
     * budget. A dispatcher keeps one per {@link DispatchScratch} and
     * {@link #reset}s it for each request.
     */
    public static final class DecodeContext {
        /** Distinct hints remembered at most; more start the cache afresh. */
        private static final int MAX_CACHED_HINTS = 256;

        final ObjectRegistry registry;
        ClassLoader loader;
        final ClassPolicy policy;
        int budget;
        /** The session's limits for this request (read once per request: they change only by SetLimits). */
        gatun.server.limits.Limits limits;
        /** Reused to read each top-level argument of the request (and of its batch's items). */
        public final Value argument = new Value();
        /** Reused to look objects up in {@link #registry}. */
        public final ObjectRegistry.Id id = new ObjectRegistry.Id(0);
        /** Type hints resolved with {@link #hintsLoader}: a hint costs a class lookup once, not per call. */
        private final HashMap<String, Class<?>> hints = new HashMap<>();
        private ClassLoader hintsLoader;
        /** A second view of {@link #viewSource}'s bytes, for reading strings and byte arrays in bulk. */
        private ByteBuffer view;
        private ByteBuffer viewSource;

        /**
         * @param registry the session's objects
         * @param loader loader for type hints
         * @param policy the class policy applied to hinted classes
         * @param budget most values to decode (guards cyclic or hostile buffers)
         */
        public DecodeContext(ObjectRegistry registry, ClassLoader loader, ClassPolicy policy, int budget) {
            this.registry = registry;
            this.policy = policy;
            reset(loader, budget);
        }

        /**
         * @param bb a request buffer
         * @return a view of the same bytes whose position and limit may be moved freely (made
         *         once per buffer: a lane passes the same buffer with every request)
         */
        ByteBuffer viewOf(ByteBuffer bb) {
            if (viewSource != bb) {
                view = bb.duplicate();
                viewSource = bb;
            }
            return view;
        }

        /**
         * Resolves a type hint ({@link #resolveHint}), remembering the answer
         * for this loader. A simple name such as {@code "ArrayList"} cost two
         * failed lookups, each building an exception, before it was found in
         * {@code java.util}.
         */
        Class<?> hint(String hint) throws ClassNotFoundException {
            if (hintsLoader != loader || hints.size() >= MAX_CACHED_HINTS) {
                hints.clear();
                hintsLoader = loader;
            }
            Class<?> c = hints.get(hint);
            if (c == null) {
                c = resolveHint(hint, loader, policy);
                hints.put(hint, c);
            }
            return c;
        }

        /** Starts a new request: its loader and its budget. */
        public void reset(ClassLoader loader, int budget) {
            this.loader = loader;
            this.budget = budget;
            this.limits = registry.quota().limits();
        }
    }

    // ------------------------------------------------------------ wire -> Java

    /**
     * Decodes an argument into {@code into}, applying its type hint.
     *
     * @param v the wire value
     * @param ctx decoding state
     * @param into the argument to overwrite
     * @return {@code into}
     * @throws ClassNotFoundException if the hint names no class
     */
    public static Arg decodeArg(Value v, DecodeContext ctx, Arg into) throws ClassNotFoundException {
        Object value = decode(v, ctx, 0);
        String hint = v.typeHint();
        if (hint == null || hint.isEmpty()) {
            return into.set(value, Coercion.naturalType(value), false);
        }
        Class<?> h = ctx.hint(hint);
        return into.set(convertToHint(value, h, hint), h, true);
    }

    /**
     * Decodes a value without a hint.
     *
     * @param v the wire value
     * @param ctx decoding state
     * @param depth current nesting
     * @return the Java value
     */
    public static Object decode(Value v, DecodeContext ctx, int depth) {
        if (v == null) {
            return null;
        }
        if (depth > ctx.limits.maxNestingDepth()) {
            ctx.registry.quota().checkDepth(depth);
        }
        if (depth > MAX_DEPTH) {
            throw new ProtocolException("value nesting deeper than " + MAX_DEPTH);
        }
        if (--ctx.budget < 0) {
            throw new ProtocolException("request holds more values than its size allows");
        }
        int kind = v.kind();
        switch (kind) {
            case ValueKind.Null:
                return null;
            case ValueKind.Bool:
                return v.b();
            case ValueKind.Int: {
                long i = v.i();
                if (i >= Integer.MIN_VALUE && i <= Integer.MAX_VALUE) {
                    return (int) i;
                }
                return i;
            }
            case ValueKind.Double:
                return v.d();
            case ValueKind.Char: {
                long i = v.i();
                if (i < 0 || i > 0xFFFF) {
                    throw new ProtocolException("Char value " + i + " is not a UTF-16 code unit");
                }
                return (char) i;
            }
            case ValueKind.String: {
                String text = text(v, ctx);
                if (text.length() > ctx.limits.maxStringLength()) {
                    ctx.registry.quota().checkString(text.length());
                }
                return text;
            }
            case ValueKind.Bytes:
                return bytes(v, ctx);
            case ValueKind.Object:
                return ctx.registry.getArgument(v.objectId(), ctx.id);
            case ValueKind.List: {
                int n = checkedLength(v.itemsLength(), 4, v);
                checkEntries(n, ctx);
                ArrayList<Object> list = new ArrayList<>(Math.min(n, 1024));
                Value item = new Value();
                for (int i = 0; i < n; i++) {
                    list.add(decode(v.items(item, i), ctx, depth + 1));
                }
                return list;
            }
            case ValueKind.Map: {
                int n = checkedLength(v.itemsLength(), 4, v);
                checkEntries(n, ctx);
                if (v.keysLength() != n) {
                    throw new ProtocolException("Map value has " + v.keysLength() + " keys and " + n + " items");
                }
                HashMap<Object, Object> map = new HashMap<>();
                Value item = new Value();
                for (int i = 0; i < n; i++) {
                    Object k = decode(v.keys(item, i), ctx, depth + 1);
                    map.put(k, decode(v.items(item, i), ctx, depth + 1));
                }
                return map;
            }
            case ValueKind.Array:
                return decodeArray(v, ctx, depth);
            default:
                throw new ProtocolException("unknown value kind " + kind);
        }
    }

    /** A list, map or object array of {@code n} entries must be within the session's limit. */
    private static void checkEntries(int n, DecodeContext ctx) {
        if (n > ctx.limits.maxListEntries()) {
            ctx.registry.quota().checkCollection(n);
        }
    }

    /**
     * Rejects a vector length that cannot fit the buffer before anything is allocated for it.
     *
     * @param n the length read from the buffer
     * @param elementSize bytes per element
     * @param t the table holding the vector
     * @return n
     */
    public static int checkedLength(int n, int elementSize, com.google.flatbuffers.Table t) {
        if (n < 0 || (long) n * elementSize > t.getByteBuffer().limit()) {
            throw new ProtocolException("vector length " + Integer.toUnsignedString(n) + " exceeds the request");
        }
        return n;
    }

    /**
     * A string value. ASCII text (most names, keys and queries) is copied
     * straight into a compact {@code String}; FlatBuffers' own decoder builds
     * a {@code char[]} first, twice the text's size, and reads it a code unit
     * at a time. Other text keeps that decoder, which refuses invalid UTF-8
     * where the JDK's would substitute U+FFFD.
     */
    private static String text(Value v, DecodeContext ctx) {
        ByteBuffer bb = v.getByteBuffer();
        ByteBuffer t;
        try {
            t = v.sInByteBuffer(ctx.viewOf(bb));
        } catch (IllegalArgumentException e) { // limit or position past the buffer
            throw new ProtocolException("a string value runs past the end of the request");
        }
        if (t == null) {
            return "";
        }
        if (bb.hasArray()) {
            byte[] a = t.array();
            int from = t.arrayOffset() + t.position();
            int n = t.remaining();
            if (isAscii(a, from, n)) {
                return new String(a, from, n, StandardCharsets.ISO_8859_1);
            }
        } else if (t.remaining() >= DIRECT_BULK_MIN) {
            // A spilled request lies in a mapped region: one bulk copy, then
            // the same ASCII path (FlatBuffers' decoder reads it a byte at a time).
            byte[] a = new byte[t.remaining()];
            t.get(a);
            if (isAscii(a, 0, a.length)) {
                return new String(a, StandardCharsets.ISO_8859_1);
            }
            return strictUtf8(a);
        }
        String s = v.s();
        return s == null ? "" : s;
    }

    /** Text at least this long in a direct buffer is copied out in bulk before decoding. */
    private static final int DIRECT_BULK_MIN = 4096;

    /** UTF-8 that must be valid (as FlatBuffers' own decoder insists), decoded from {@code a}. */
    private static String strictUtf8(byte[] a) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(a)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new ProtocolException("a string value is not valid UTF-8: " + e);
        }
    }

    private static boolean isAscii(byte[] a, int from, int n) {
        int bits = 0;
        for (int i = from, end = from + n; i < end; i++) {
            bits |= a[i];
        }
        return bits >= 0; // the sign bit is set by any byte >= 0x80
    }

    /** The data vector of {@code v}, little-endian, from position 0: a view of the request where it can be. */
    private static ByteBuffer data(Value v, DecodeContext ctx) {
        int n = checkedLength(v.dataLength(), 1, v);
        ByteBuffer bb = v.getByteBuffer();
        ByteBuffer data;
        if (n > 0) {
            // A view of the request: the heap copy of a slot, or the mapped
            // region of a spilled request (read before the region is released).
            data = v.dataInByteBuffer(ctx.viewOf(bb)).slice();
        } else {
            byte[] out = new byte[n];
            for (int i = 0; i < n; i++) {
                out[i] = (byte) v.data(i);
            }
            data = ByteBuffer.wrap(out);
        }
        return data.order(ByteOrder.LITTLE_ENDIAN);
    }

    private static byte[] bytes(Value v, DecodeContext ctx) {
        ByteBuffer data = data(v, ctx);
        byte[] out = new byte[data.remaining()];
        data.get(out);
        return out;
    }

    private static Object decodeArray(Value v, DecodeContext ctx, int depth) {
        int et = v.elementType();
        if (et == ElementType.Object || et == ElementType.String) {
            int n = checkedLength(v.itemsLength(), 4, v);
            checkEntries(n, ctx);
            Object[] out = et == ElementType.String ? new String[n] : new Object[n];
            Value item = new Value();
            for (int i = 0; i < n; i++) {
                Object o = decode(v.items(item, i), ctx, depth + 1);
                if (et == ElementType.String && o != null && !(o instanceof String)) {
                    throw new ProtocolException("String array item " + i + " is a " + o.getClass().getName());
                }
                out[i] = o;
            }
            return out;
        }
        // Read straight from the request: a primitive array is copied once, into its Java array.
        ByteBuffer data = data(v, ctx);
        int size = elementSize(et);
        if (data.remaining() % size != 0) {
            throw new ProtocolException("Array of " + ElementType.name(et) + " has " + data.remaining()
                    + " data bytes, not a multiple of " + size);
        }
        int n = data.remaining() / size;
        switch (et) {
            case ElementType.Boolean: {
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) a[i] = data.get(i) != 0;
                return a;
            }
            case ElementType.Byte: {
                byte[] a = new byte[n];
                data.get(a);
                return a;
            }
            case ElementType.Char: {
                char[] a = new char[n];
                data.asCharBuffer().get(a);
                return a;
            }
            case ElementType.Short: {
                short[] a = new short[n];
                data.asShortBuffer().get(a);
                return a;
            }
            case ElementType.Int: {
                int[] a = new int[n];
                data.asIntBuffer().get(a);
                return a;
            }
            case ElementType.Long: {
                long[] a = new long[n];
                data.asLongBuffer().get(a);
                return a;
            }
            case ElementType.Float: {
                float[] a = new float[n];
                data.asFloatBuffer().get(a);
                return a;
            }
            default: {
                double[] a = new double[n];
                data.asDoubleBuffer().get(a);
                return a;
            }
        }
    }

    private static int elementSize(int et) {
        switch (et) {
            case ElementType.Boolean:
            case ElementType.Byte:
                return 1;
            case ElementType.Char:
            case ElementType.Short:
                return 2;
            case ElementType.Int:
            case ElementType.Float:
                return 4;
            case ElementType.Long:
            case ElementType.Double:
                return 8;
            default:
                throw new ProtocolException("unknown array element type " + et);
        }
    }

    /**
     * Resolves a type hint: a primitive name, a class name, or a simple name in
     * java.lang or java.util.
     *
     * @param hint the hint text
     * @param loader loader to use
     * @param policy the class policy
     * @return the class
     * @throws ClassNotFoundException if nothing matches
     */
    public static Class<?> resolveHint(String hint, ClassLoader loader, ClassPolicy policy)
            throws ClassNotFoundException {
        switch (hint) {
            case "int": return int.class;
            case "long": return long.class;
            case "double": return double.class;
            case "float": return float.class;
            case "short": return short.class;
            case "byte": return byte.class;
            case "char": return char.class;
            case "boolean": return boolean.class;
            default:
                break;
        }
        policy.checkClassName(hint);
        try {
            return Class.forName(hint, false, loader);
        } catch (ClassNotFoundException e) {
            if (hint.indexOf('.') < 0) {
                for (String pkg : new String[] {"java.lang.", "java.util."}) {
                    try {
                        return Class.forName(pkg + hint, false, loader);
                    } catch (ClassNotFoundException ignored) {
                        // try the next package
                    }
                }
            }
            throw e;
        }
    }

    private static Object convertToHint(Object value, Class<?> h, String hint) {
        if (value == null) {
            if (h.isPrimitive()) {
                throw new ClassCastException("null cannot be passed as " + hint);
            }
            return null;
        }
        Object c = Coercion.coerce(value, h);
        if (c == Coercion.NO_MATCH) {
            throw new ClassCastException("a " + value.getClass().getName()
                    + " value cannot be passed as type hint " + hint);
        }
        return c;
    }

    // ------------------------------------------------------------ Java -> wire

    /**
     * Encodes a result. A top-level Object[] (or any array of references) and
     * any non-convertible object become an Object reference.
     *
     * @param b the builder
     * @param v the result
     * @param registry the session's objects
     * @param asReference keep any non-null value as a reference
     * @return the Value offset
     */
    public static int encodeResult(FlatBufferBuilder b, Object v, ObjectRegistry registry, boolean asReference) {
        if (v != null && (asReference || (v instanceof Object[]))) {
            return encodeReference(b, v, registry);
        }
        return encode(b, v, registry, 0);
    }

    /**
     * Encodes a value by value where possible (nested Object[] become Arrays).
     *
     * @param b the builder
     * @param v the value
     * @param registry the session's objects
     * @param depth nesting so far
     * @return the Value offset
     */
    public static int encode(FlatBufferBuilder b, Object v, ObjectRegistry registry, int depth) {
        if (v == null) {
            Value.startValue(b);
            Value.addKind(b, ValueKind.Null);
            return Value.endValue(b);
        }
        if (v instanceof Boolean) {
            Value.startValue(b);
            Value.addKind(b, ValueKind.Bool);
            Value.addB(b, (Boolean) v);
            return Value.endValue(b);
        }
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            Value.startValue(b);
            Value.addKind(b, ValueKind.Int);
            Value.addI(b, ((Number) v).longValue());
            return Value.endValue(b);
        }
        if (v instanceof Double || v instanceof Float) {
            Value.startValue(b);
            Value.addKind(b, ValueKind.Double);
            double d = ((Number) v).doubleValue();
            // FlatBuffers leaves out a field equal to its default, and
            // -0.0 == 0.0: write -0.0 out or its sign is lost.
            boolean negativeZero = d == 0.0 && Double.doubleToRawLongBits(d) != 0L;
            b.forceDefaults(negativeZero);
            Value.addD(b, d);
            b.forceDefaults(false);
            return Value.endValue(b);
        }
        if (v instanceof Character) {
            Value.startValue(b);
            Value.addKind(b, ValueKind.Char);
            Value.addI(b, (Character) v);
            return Value.endValue(b);
        }
        if (v instanceof String) {
            int s = createString(b, (String) v);
            Value.startValue(b);
            Value.addKind(b, ValueKind.String);
            Value.addS(b, s);
            return Value.endValue(b);
        }
        if (v instanceof byte[]) {
            reserve(b, ((byte[]) v).length);
            int d = b.createByteVector((byte[]) v);
            Value.startValue(b);
            Value.addKind(b, ValueKind.Bytes);
            Value.addData(b, d);
            return Value.endValue(b);
        }
        if (depth >= MAX_DEPTH) {
            return encodeReference(b, v, registry);
        }
        if (v instanceof List) {
            List<?> list = (List<?>) v;
            checkElements(list.size(), v);
            int[] items = new int[list.size()];
            int i = 0;
            for (Object o : list) {
                if (i == items.length) {
                    break; // concurrently grown; send what was sized
                }
                items[i++] = encode(b, o, registry, depth + 1);
            }
            int vec = Value.createItemsVector(b, i == items.length ? items : java.util.Arrays.copyOf(items, i));
            Value.startValue(b);
            Value.addKind(b, ValueKind.List);
            Value.addItems(b, vec);
            return Value.endValue(b);
        }
        if (v instanceof Map) {
            Map<?, ?> map = (Map<?, ?>) v;
            int n = map.size();
            checkElements(n, v);
            int[] keys = new int[n];
            int[] items = new int[n];
            int i = 0;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (i == n) {
                    break;
                }
                keys[i] = encode(b, e.getKey(), registry, depth + 1);
                items[i] = encode(b, e.getValue(), registry, depth + 1);
                i++;
            }
            if (i < n) {
                keys = java.util.Arrays.copyOf(keys, i);
                items = java.util.Arrays.copyOf(items, i);
            }
            int kv = Value.createKeysVector(b, keys);
            int iv = Value.createItemsVector(b, items);
            Value.startValue(b);
            Value.addKind(b, ValueKind.Map);
            Value.addKeys(b, kv);
            Value.addItems(b, iv);
            return Value.endValue(b);
        }
        if (v.getClass().isArray()) {
            return encodeArray(b, v, registry, depth);
        }
        return encodeReference(b, v, registry);
    }

    private static void checkElements(int n, Object v) {
        if (n > MAX_ELEMENTS) {
            throw new IllegalStateException("a " + v.getClass().getName() + " of " + n
                    + " elements cannot be sent by value: it exceeds any lane slot; ask for a reference instead");
        }
    }

    private static int encodeArray(FlatBufferBuilder b, Object v, ObjectRegistry registry, int depth) {
        checkElements(java.lang.reflect.Array.getLength(v), v);
        Class<?> comp = v.getClass().getComponentType();
        if (!comp.isPrimitive()) {
            Object[] arr = (Object[]) v;
            int[] items = new int[arr.length];
            for (int i = 0; i < arr.length; i++) {
                items[i] = encode(b, arr[i], registry, depth + 1);
            }
            int vec = Value.createItemsVector(b, items);
            Value.startValue(b);
            Value.addKind(b, ValueKind.Array);
            Value.addElementType(b, comp == String.class ? ElementType.String : ElementType.Object);
            Value.addItems(b, vec);
            return Value.endValue(b);
        }
        int et;
        int n = java.lang.reflect.Array.getLength(v);
        int width = comp == boolean.class ? 1 : comp == char.class || comp == short.class ? 2
                : comp == int.class || comp == float.class ? 4 : 8;
        if ((long) n * width > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("a " + comp.getName() + "[" + n + "] takes more than 2 GiB; "
                    + "return it in parts or as Arrow data");
        }
        // Written straight into the builder's vector: one copy of the array.
        reserve(b, (long) n * width);
        ByteBuffer data = b.createUnintializedVector(1, n * width, 8).order(ByteOrder.LITTLE_ENDIAN);
        if (comp == boolean.class) {
            et = ElementType.Boolean;
            for (boolean x : (boolean[]) v) data.put((byte) (x ? 1 : 0));
        } else if (comp == char.class) {
            et = ElementType.Char;
            data.asCharBuffer().put((char[]) v);
        } else if (comp == short.class) {
            et = ElementType.Short;
            data.asShortBuffer().put((short[]) v);
        } else if (comp == int.class) {
            et = ElementType.Int;
            data.asIntBuffer().put((int[]) v);
        } else if (comp == long.class) {
            et = ElementType.Long;
            data.asLongBuffer().put((long[]) v);
        } else if (comp == float.class) {
            et = ElementType.Float;
            data.asFloatBuffer().put((float[]) v);
        } else {
            et = ElementType.Double;
            data.asDoubleBuffer().put((double[]) v);
        }
        int d = b.endVector();
        Value.startValue(b);
        Value.addKind(b, ValueKind.Array);
        Value.addElementType(b, et);
        Value.addData(b, d);
        return Value.endValue(b);
    }

    /** A value at least this large, written first into an empty builder, gets its room at once. */
    private static final int RESERVE_MIN = 1 << 20;

    /**
     * Gives an empty builder (a reply whose value is about to be written) a
     * buffer with room for {@code bytes} more: growing by doubling from 4 KiB
     * would allocate, zero and copy twice the final size (a 100 MB reply
     * spills anyway, see {@code MessageSpill}). A builder holding anything
     * is left alone.
     */
    private static void reserve(FlatBufferBuilder b, long bytes) {
        if (bytes >= RESERVE_MIN && bytes <= Integer.MAX_VALUE - (1 << 16) && b.offset() == 0) {
            b.init(ByteBuffer.allocate((int) bytes + (1 << 12)), FlatBufferBuilder.HeapByteBufferFactory.INSTANCE);
        }
    }

    /** Strings at least this long are encoded by the JDK rather than FlatBuffers' per-character encoder. */
    private static final int BULK_STRING_MIN = 1 << 16;

    /**
     * Adds {@code s} as a FlatBuffers string. A long one is encoded with
     * {@code String.getBytes} (a vectorised copy for Latin-1 text) instead of
     * FlatBuffers' encoder, which handles a character at a time: a 100 MB
     * string took ~0.3 s that way.
     */
    private static int createString(FlatBufferBuilder b, String s) {
        if (s.length() < BULK_STRING_MIN) {
            return b.createString(s);
        }
        byte[] utf8 = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        reserve(b, utf8.length);
        return b.createString(ByteBuffer.wrap(utf8));
    }

    /**
     * Registers an object and encodes a reference to it.
     *
     * @param b the builder
     * @param v a non-null object
     * @param registry the session's objects
     * @return the Value offset
     */
    public static int encodeReference(FlatBufferBuilder b, Object v, ObjectRegistry registry) {
        long id = registry.register(v);
        int cn = b.createString(v.getClass().getName());
        Value.startValue(b);
        Value.addKind(b, ValueKind.Object);
        Value.addObjectId(b, id);
        Value.addClassName(b, cn);
        return Value.endValue(b);
    }
}
