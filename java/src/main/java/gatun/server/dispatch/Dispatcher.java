package gatun.server.dispatch;

import gatun.server.UnknownObjectException;

import gatun.server.PythonException;

import gatun.server.reflect.Coercion;

import gatun.server.Metrics;
import gatun.server.ObjectRegistry;
import gatun.server.ProtocolException;
import gatun.server.ValueCodec;
import gatun.server.callbacks.Callbacks;
import gatun.server.reflect.ClassPolicy;
import gatun.server.reflect.MethodResolver;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import gatun.protocol.CallbackCall;
import gatun.protocol.JavaError;
import gatun.protocol.Request;
import gatun.protocol.Response;
import gatun.protocol.Value;
import gatun.server.ValueCodec.Arg;
import gatun.server.ValueCodec.DecodeContext;
import gatun.server.arrow.ArrowSession;
import gatun.server.arrow.BridgeArrowReader;
import gatun.server.arrow.StagedBatch;
import org.apache.arrow.vector.ipc.ArrowReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Modifier;
import java.lang.reflect.UndeclaredThrowableException;
import java.nio.ByteBuffer;
import java.util.function.LongSupplier;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * Runs one session's requests: decodes a {@link Request}, performs its action
 * and encodes the {@link Response} into a builder. It never throws: malformed
 * input and user exceptions alike become a {@code JavaError}.
 *
 * <p>Decoding is lazy (FlatBuffers), so every read of the request buffer runs
 * inside a guard that turns bounds or UTF-8 failures into a
 * {@link ProtocolException}; the buffer's limit is the request length, so no
 * read escapes it.
 *
 * <p>A session's lanes share one dispatcher, each serving on its own thread;
 * what a request needs from one call to the next (table objects, names,
 * arguments) lives in the {@link DispatchScratch} the lane passes in, so a
 * repeated call allocates nothing here (issue 4).
 */
public final class Dispatcher {
    static final int MAX_BATCH_DEPTH = 8;
    /** Most class names remembered by {@link #loadClass}. */
    private static final int MAX_CACHED_CLASSES = 4096;

    /** Receiver class that last passed {@link ClassPolicy#checkClass} (the policy is immutable). */
    private volatile Class<?> checkedReceiverClass;
    /** Classes that {@link #tryLoad} found (policy checks passed), by name, with the loader used. */
    private final java.util.concurrent.ConcurrentHashMap<String, Loaded> classCache =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** A class {@link #tryLoad} returned for a name through a loader. */
    private static final class Loaded {
        final ClassLoader loader;
        final Class<?> c;

        Loaded(ClassLoader loader, Class<?> c) {
            this.loader = loader;
            this.c = c;
        }
    }

    private final ObjectRegistry registry;
    private final MethodResolver resolver;
    private final ClassPolicy policy;
    private final Metrics metrics;
    private final LongSupplier liveSessions;
    private final ArrowSession arrow;
    private final Callbacks callbacks;

    /** What {@link #callbackReply} returns for a message that is not a CallbackReply. */
    public static final Object NOT_A_REPLY = new Object();

    /**
     * @param registry the session's objects
     * @param resolver the (server-wide) resolver
     * @param policy the class policy
     * @param metrics server counters
     * @param liveSessions reports how many sessions are live, for GetMetrics
     */
    public Dispatcher(ObjectRegistry registry, MethodResolver resolver, ClassPolicy policy, Metrics metrics,
                      LongSupplier liveSessions) {
        this(registry, resolver, policy, metrics, liveSessions, null);
    }

    /**
     * @param registry the session's objects
     * @param resolver the (server-wide) resolver
     * @param policy the class policy
     * @param metrics server counters
     * @param liveSessions reports how many sessions are live, for GetMetrics
     * @param arrow the session's Arrow data plane, or null (Arrow actions are refused)
     */
    public Dispatcher(ObjectRegistry registry, MethodResolver resolver, ClassPolicy policy, Metrics metrics,
                      LongSupplier liveSessions, ArrowSession arrow) {
        this(registry, resolver, policy, metrics, liveSessions, arrow, null);
    }

    /**
     * @param registry the session's objects
     * @param resolver the (server-wide) resolver
     * @param policy the class policy
     * @param metrics server counters
     * @param liveSessions reports how many sessions are live, for GetMetrics
     * @param arrow the session's Arrow data plane, or null (Arrow actions are refused)
     * @param callbacks the session's Python callbacks, or null (callback actions are refused)
     */
    public Dispatcher(ObjectRegistry registry, MethodResolver resolver, ClassPolicy policy, Metrics metrics,
               LongSupplier liveSessions, ArrowSession arrow, Callbacks callbacks) {
        this.callbacks = callbacks;
        this.arrow = arrow;
        this.registry = registry;
        this.resolver = resolver;
        this.policy = policy;
        this.metrics = metrics;
        this.liveSessions = liveSessions;
    }

    /**
     * Decodes and runs one request.
     *
     * @param b a cleared builder; the Response offset is returned, not finished
     * @param request the request bytes (position 0, limit = length)
     * @return the Response table offset
     */
    public int handle(FlatBufferBuilder b, ByteBuffer request) {
        return handle(b, request, Integer.MAX_VALUE);
    }

    /**
     * Decodes and runs one request whose response must fit {@code slot} bytes:
     * a batch stops before running another item once its replies take half of
     * that (so the last item's reply has the other half), answering for the
     * items run so far; the client sends the rest again.
     *
     * @param b a cleared builder; the Response offset is returned, not finished
     * @param request the request bytes (position 0, limit = length)
     * @param slot the most bytes the finished response may take
     * @return the Response table offset
     */
    public int handle(FlatBufferBuilder b, ByteBuffer request, int slot) {
        return handle(b, request, slot, newScratch());
    }

    /**
     * A scratch for {@link #handle(FlatBufferBuilder, ByteBuffer, int, DispatchScratch)}:
     * one per thread and nesting level that serves this dispatcher's requests.
     *
     * @return a new scratch
     */
    public DispatchScratch newScratch() {
        return new DispatchScratch(this, registry, policy);
    }

    /**
     * {@link #handle(FlatBufferBuilder, ByteBuffer, int)} reusing {@code scratch}'s
     * objects: a request like an earlier one through the same scratch
     * allocates nothing of the dispatcher's own (what remains is the call's:
     * boxes of values outside the JDK's caches, varargs arrays, the target's
     * own allocations).
     *
     * @param b a cleared builder; the Response offset is returned, not finished
     * @param request the request bytes (position 0, limit = length)
     * @param slot the most bytes the finished response may take
     * @param scratch from {@link #newScratch()} of this dispatcher, serving no other request
     * @return the Response table offset
     */
    public int handle(FlatBufferBuilder b, ByteBuffer request, int slot, DispatchScratch scratch) {
        if (scratch.owner != this) {
            throw new IllegalArgumentException("a DispatchScratch serves only the dispatcher that made it");
        }
        scratch.begin(loader(), request.remaining() / 4 + 16);
        try {
            Request r;
            try {
                if (request.remaining() < 8) {
                    throw new ProtocolException("request of " + request.remaining() + " bytes is too short");
                }
                r = Request.getRootAsRequest(request, scratch.root);
            } catch (RuntimeException e) {
                metrics.requests.increment();
                return errorResponse(b, e instanceof ProtocolException ? e : malformed(e));
            }
            return run(b, r, scratch, 0, null, slot / 2);
        } finally {
            scratch.end();
        }
    }

    /**
     * What the items of one batch share, so that an item like the one before
     * costs no allocation beyond its call's own: an outcome that is always
     * encoded the same (null, true, false, skipped) is encoded once and
     * referenced by every item with that outcome, as FlatBuffers allows. A
     * batch of setters or {@code add} calls then answers with 4 bytes per
     * item, and a batch stopped early by an error fits its slot however many
     * items it skipped. (Names and the resolved method are remembered across
     * items and requests by the {@link DispatchScratch}.)
     */
    static final class BatchScope {
        private int none;
        private int yes;
        private int no;
        private int skipped;

        /** Starts a batch: nothing encoded yet. */
        void reset() {
            none = -1;
            yes = -1;
            no = -1;
            skipped = -1;
        }

        /** The Response for a null or Boolean result. */
        int value(FlatBufferBuilder b, Boolean result) {
            if (result == null) {
                return none >= 0 ? none : (none = valueResponse(b, ValueCodec.encode(b, null, null, 0)));
            }
            if (result) {
                return yes >= 0 ? yes : (yes = valueResponse(b, ValueCodec.encode(b, true, null, 0)));
            }
            return no >= 0 ? no : (no = valueResponse(b, ValueCodec.encode(b, false, null, 0)));
        }
    }

    private static int valueResponse(FlatBufferBuilder b, int value) {
        Response.startResponse(b);
        Response.addValue(b, value);
        return Response.endResponse(b);
    }

    /**
     * Runs one request; sets {@code s.failed[depth]} if it answered with an error.
     * {@code scope} is the enclosing batch's (null outside a batch).
     */
    private int run(FlatBufferBuilder b, Request r, DispatchScratch s, int depth, BatchScope scope,
                    int replyBudget) {
        metrics.requests.increment();
        try {
            int action = action(r);
            if (action == Action.Batch) {
                return batch(b, r, s, depth, replyBudget);
            }
            Object result = execute(r, action, s);
            // A created object is always a reference: Python holds a proxy to it; so is a received batch.
            boolean asRef = action == Action.CreateObject || action == Action.SendArrowBatch
                    || action == Action.RegisterCallback || returnObjectRef(r);
            int value;
            boolean invoked = action == Action.InvokeMethod || action == Action.InvokeStaticMethod;
            if (!asRef && arrow != null && invoked && ArrowSession.isArrowValue(result)) {
                value = exportArrow(b, result);
            } else if (!asRef && arrow != null && invoked && result instanceof ArrowReader) {
                // Python reads it batch by batch through its reference.
                long id = registry.register(result);
                value = arrow.exportReader(b, (ArrowReader) result, id);
            } else if (action == Action.ArrowStream && result != null) {
                try {
                    value = ValueCodec.encodeResult(b, result, registry, true);
                    registry.markUnseen((BridgeArrowReader) result);
                } catch (RuntimeException | Error e) {
                    ((BridgeArrowReader) result).close(); // not registered: nobody else could close it
                    throw e;
                }
            } else if (action == Action.RegisterCallback) {
                // Already registered: its id is the callback id.
                value = encodeProxy(b, (Long) result, s.names.className(r));
            } else if (action == Action.SendArrowBatch) {
                try {
                    value = ValueCodec.encodeResult(b, result, registry, true);
                    registry.markUnseen((VectorSchemaRoot) result);
                } catch (RuntimeException | Error e) {
                    ((VectorSchemaRoot) result).close(); // not registered: nobody else could close it
                    throw e;
                }
            } else if (scope != null && (result == null || (!asRef && result instanceof Boolean))) {
                return scope.value(b, (Boolean) result);
            } else {
                value = ValueCodec.encodeResult(b, result, registry, asRef);
            }
            return valueResponse(b, value);
        } catch (Throwable t) {
            s.failed[depth] = true;
            return errorResponse(b, t);
        }
    }

    /** Runs a batch's items; stops before an item once the replies take {@code replyBudget} bytes. */
    private int batch(FlatBufferBuilder b, Request r, DispatchScratch s, int depth, int replyBudget) {
        if (depth >= MAX_BATCH_DEPTH) {
            throw new ProtocolException("batches nested deeper than " + MAX_BATCH_DEPTH);
        }
        releaseIds(r, s);
        int n = batchLength(r);
        boolean stopOnError = stopOnError(r);
        int itemDepth = depth + 1;
        int[] items = s.replies(itemDepth, n);
        s.failed[itemDepth] = false;
        BatchScope scope = s.scope(itemDepth);
        Request item = s.item(itemDepth);
        int answered = 0;
        for (int i = 0; i < n; i++) {
            if (s.failed[itemDepth] && stopOnError) {
                releaseSkippedBatch(r, item, i);
                metrics.requests.increment();
                if (scope.skipped < 0) {
                    scope.skipped = errorResponse(b, "java.util.concurrent.CancellationException",
                            "skipped after an earlier error", "");
                } else {
                    metrics.errors.increment();
                }
                items[answered++] = scope.skipped;
                continue;
            }
            if (i > 0 && b.offset() + 4 * i > replyBudget) {
                break; // not run: the reply lists the items before it, and Python sends the rest again
            }
            Request sub;
            try {
                sub = batchItem(r, item, i);
            } catch (ProtocolException e) {
                metrics.requests.increment();
                items[answered++] = errorResponse(b, e);
                s.failed[itemDepth] = true;
                continue;
            }
            items[answered++] = run(b, sub, s, itemDepth, scope, replyBudget);
        }
        int vec = replyVector(b, items, answered);
        Response.startResponse(b);
        Response.addBatch(b, vec);
        return Response.endResponse(b);
    }

    /** {@link Response#createBatchVector} of the first {@code n} offsets, so the array can be reused. */
    private static int replyVector(FlatBufferBuilder b, int[] items, int n) {
        b.startVector(4, n, 4);
        for (int i = n - 1; i >= 0; i--) {
            b.addOffset(items[i]);
        }
        return b.endVector();
    }

    private Object execute(Request r, int action, DispatchScratch s) throws Throwable {
        try {
            releaseIds(r, s);
        } catch (RuntimeException e) {
            if ((action == Action.SendArrowBatch || action == Action.ArrowStream) && arrow != null) {
                arrow.releaseUnused(guard(r::arrow));
            }
            throw e;
        }
        switch (action) {
            case Action.Ping:
            case Action.ReleaseObjects:
                return null;
            case Action.CreateObject: {
                Class<?> c = loadClass(s.names.className(r));
                Arg[] args = args(r, s);
                return invoke(resolver.resolveConstructor(c, args), null, args, s);
            }
            case Action.InvokeMethod: {
                Object target = registry.get(objectId(r), s.ctx.id);
                String name = s.names.name(r);
                Arg[] args = args(r, s);
                checkReceiverClass(target.getClass());
                Object result = invoke(resolver.resolveMethod(target.getClass(), name, args, false, s.lastMethod),
                        target, args, s);
                if (registry.unseenByJava(target) && mayShareWithJava(result, r)) {
                    registry.seenByJava(target); // e.g. a vector of the root, kept by reference
                }
                return result;
            }
            case Action.InvokeStaticMethod: {
                Class<?> c = loadClass(s.names.className(r));
                String name = s.names.name(r);
                Arg[] args = args(r, s);
                return invoke(resolver.resolveMethod(c, name, args, true, s.lastMethod), null, args, s);
            }
            case Action.GetField: {
                Object target = registry.get(guard(r::objectId));
                Field f = findField(target.getClass(), requireText(r::name, "name"), false);
                Object result = f.get(target);
                if (registry.unseenByJava(target) && mayShareWithJava(result, r)) {
                    registry.seenByJava(target);
                }
                return result;
            }
            case Action.SetField: {
                Object target = registry.get(guard(r::objectId));
                Field f = findField(target.getClass(), requireText(r::name, "name"), false);
                setField(f, target, r, s);
                return null;
            }
            case Action.GetStaticField: {
                Class<?> c = loadClass(requireText(r::className, "class_name"));
                return findField(c, requireText(r::name, "name"), true).get(null);
            }
            case Action.SetStaticField: {
                Class<?> c = loadClass(requireText(r::className, "class_name"));
                Field f = findField(c, requireText(r::name, "name"), true);
                setField(f, null, r, s);
                return null;
            }
            case Action.Reflect:
                return reflect(requireText(r::className, "class_name"));
            case Action.IsInstanceOf: {
                Object target = registry.get(guard(r::objectId));
                return loadClass(requireText(r::className, "class_name")).isInstance(target);
            }
            case Action.GetMetrics:
                // The layout of upstream Gatun's report, which scripts parse.
                return "=== Gatun Server Metrics ===\n"
                        + "Global:\n"
                        + "  total_requests: " + metrics.requests.sum() + "\n"
                        + "  total_errors: " + metrics.errors.sum() + "\n"
                        + "  current_sessions: " + liveSessions.getAsLong() + "\n"
                        + "  sessions_started: " + metrics.sessionsStarted.get() + "\n"
                        + "Session:\n"
                        + "  current_objects: " + registry.size() + "\n"
                        + "  resolutions_cached: " + resolver.cacheSize() + "\n"
                        + "  arena_regions: " + (arrow == null ? 0 : arrow.arena().liveRegions()) + "\n";
            case Action.DefineSchema:
                requireArrow(action).defineSchema(guard(r::schema));
                return null;
            case Action.SendArrowBatch: {
                ArrowSession a = requireArrow(action);
                return a.importBatch(guard(r::schema), guard(r::arrow));
            }
            case Action.ArrowStream:
                return arrowStream(requireArrow(action), r);
            case Action.RegisterCallback:
                return requireCallbacks(action).register(loadClass(s.names.className(r)));
            case Action.UnregisterCallback:
                requireCallbacks(action).unregister(objectId(r));
                return null;
            case Action.CallbackReply:
                throw new ProtocolException("a CallbackReply arrived, but no callback is waiting for one on this lane");
            default:
                throw new ProtocolException("unknown action " + action);
        }
    }

    // ------------------------------------------------------------- callbacks

    private Callbacks requireCallbacks(int action) {
        if (callbacks == null) {
            throw new UnsupportedOperationException(Action.name(action) + " needs a session with callbacks");
        }
        return callbacks;
    }

    /** The reference to a callback's proxy (registered under {@code id}), named by its interface. */
    private static int encodeProxy(FlatBufferBuilder b, long id, String iface) {
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
    public int callbackCall(FlatBufferBuilder b, long callbackId, java.lang.reflect.Method m, Object[] args) {
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
    public Object callbackReply(ByteBuffer request) {
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
        DecodeContext ctx = new DecodeContext(registry, loader(), policy, request.remaining() / 4 + 16);
        try {
            return ValueCodec.decode(r.args(new Value(), 0), ctx, 0);
        } catch (UnknownObjectException | ProtocolException ex) {
            throw ex;
        } catch (RuntimeException | StackOverflowError ex) {
            throw malformed(ex);
        }
    }

    // ----------------------------------------------------------------- arrow

    /**
     * Opens a {@link BridgeArrowReader} with its first batch (object_id 0) or
     * feeds an open one; every region of the descriptor is released if the
     * batch is not taken.
     */
    private Object arrowStream(ArrowSession a, Request r) {
        long id = guard(r::objectId);
        gatun.protocol.BatchDescriptor d = guard(r::arrow);
        if (id == 0) {
            if (d == null) {
                throw new ProtocolException("ArrowStream opening a reader needs its first batch");
            }
            StagedBatch first = a.stage(guard(r::schema), d);
            BridgeArrowReader reader = new BridgeArrowReader(first.schema(), a.allocator());
            reader.offer(first);
            if (guard(r::endOfStream)) {
                reader.end();
            }
            return reader;
        }
        BridgeArrowReader reader;
        try {
            reader = openReader(id);
        } catch (RuntimeException e) {
            a.releaseUnused(d);
            throw e;
        }
        if (d != null) {
            reader.offer(a.stage(guard(r::schema), d));
        }
        if (guard(r::endOfStream)) {
            reader.end();
        }
        return null;
    }

    /** The reader an ArrowStream names: -1 for the one pulling on this thread, else its object id. */
    private BridgeArrowReader openReader(long id) {
        if (id == -1) {
            BridgeArrowReader pulling = BridgeArrowReader.pulling();
            if (pulling == null) {
                throw new IllegalStateException("ArrowStream to the pulling reader, but no reader is pulling a batch "
                        + "on this thread");
            }
            return pulling;
        }
        Object target = registry.get(id);
        if (!(target instanceof BridgeArrowReader)) {
            throw new IllegalArgumentException("object " + id + " is a " + target.getClass().getName() + ", not a "
                    + BridgeArrowReader.class.getName());
        }
        return (BridgeArrowReader) target;
    }

    /** A SendArrowBatch skipped inside a batch still owes a Release for each of its regions. */
    private void releaseSkippedBatch(Request r, Request item, int i) {
        if (arrow == null) {
            return;
        }
        try {
            Request sub = r.batch(item, i);
            if (sub.action() == Action.SendArrowBatch || sub.action() == Action.ArrowStream) {
                arrow.releaseUnused(sub.arrow());
            }
        } catch (RuntimeException e) {
            // unreadable: nothing that could be released
        }
    }

    private ArrowSession requireArrow(int action) {
        if (arrow == null) {
            throw new UnsupportedOperationException(Action.name(action) + " needs a session with a payload arena");
        }
        return arrow;
    }

    /**
     * Whether a result taken from an Arrow object may let Java code share its
     * memory: anything registered by reference (a vector, a list of them), as
     * opposed to plain values and Arrow data returned by value.
     */
    private static boolean mayShareWithJava(Object result, Request r) {
        if (result == null || result instanceof Number || result instanceof Boolean || result instanceof String
                || result instanceof Character) {
            return false;
        }
        return returnObjectRef(r) || !ArrowSession.isArrowValue(result);
    }

    /**
     * Returns a VectorSchemaRoot or FieldVector by value: shared where it lies
     * in shared memory, copied once otherwise. The value is neither emptied
     * nor closed: it stays the JVM's (see {@link gatun.server.arrow.ArrowBridge}).
     */
    private int exportArrow(FlatBufferBuilder b, Object result) {
        return arrow.exportValue(b, result);
    }

    // --------------------------------------------------------------- helpers

    private void releaseIds(Request r, DispatchScratch s) {
        int n = releaseIdsLength(r);
        for (int i = 0; i < n; i++) {
            registry.release(releaseId(r, i), s.ctx.id);
        }
    }

    /** Decodes the request's arguments into the scratch's Args of that arity. */
    private static Arg[] args(Request r, DispatchScratch s) throws ClassNotFoundException {
        int n = argsLength(r);
        Arg[] out = s.args(n);
        Value v = s.ctx.argument;
        for (int i = 0; i < n; i++) {
            try {
                ValueCodec.decodeArg(r.args(v, i), s.ctx, out[i]);
            } catch (UnknownObjectException | ClassCastException | SecurityException | ProtocolException e) {
                throw e;
            } catch (RuntimeException | StackOverflowError e) {
                throw malformed(e);
            }
        }
        return out;
    }

    /** {@link MethodResolver#invoke}, passing the values through the scratch's array of that length. */
    private Object invoke(MethodResolver.Resolved m, Object receiver, Arg[] args, DispatchScratch s)
            throws Throwable {
        return resolver.invoke(m, receiver, args, s.call(m.callLength()));
    }

    private void setField(Field f, Object target, Request r, DispatchScratch s) throws Exception {
        Arg[] args = args(r, s);
        if (args.length != 1) {
            throw new IllegalArgumentException("setting field " + f.getName() + " needs exactly one value in args, got "
                    + args.length);
        }
        Object v = Coercion.coerce(args[0].value, f.getType());
        if (v == Coercion.NO_MATCH) {
            throw new IllegalArgumentException("a " + args[0] + " value cannot be stored in field "
                    + f.getDeclaringClass().getName() + "." + f.getName() + " of type " + f.getType().getName());
        }
        f.set(target, v);
    }

    private Field findField(Class<?> c, String name, boolean wantStatic) throws NoSuchFieldException {
        policy.checkClass(c);
        Field found = null;
        try {
            Field f = c.getField(name);
            if (Modifier.isStatic(f.getModifiers()) == wantStatic) {
                found = f;
            }
        } catch (NoSuchFieldException e) {
            // look at declared fields below
        }
        for (Class<?> k = c; found == null && k != null; k = k.getSuperclass()) {
            try {
                Field f = k.getDeclaredField(name);
                if (Modifier.isStatic(f.getModifiers()) == wantStatic) {
                    found = f;
                }
            } catch (NoSuchFieldException e) {
                // keep walking up
            }
        }
        if (found == null) {
            throw new NoSuchFieldException("no " + (wantStatic ? "static" : "instance") + " field " + name
                    + " in " + c.getName());
        }
        policy.checkField(found);
        if (!Modifier.isPublic(found.getModifiers()) || !Modifier.isPublic(found.getDeclaringClass().getModifiers())) {
            found.setAccessible(true);
        }
        return found;
    }

    private static ClassLoader loader() {
        ClassLoader l = Thread.currentThread().getContextClassLoader();
        return l != null ? l : Dispatcher.class.getClassLoader();
    }

    /**
     * Loads a class for Python, trying nested-class spellings ({@code a.b.Outer.Inner}
     * as {@code a.b.Outer$Inner}) when the dotted name does not load.
     */
    private Class<?> loadClass(String name) throws ClassNotFoundException {
        ClassLoader l = loader();
        Loaded hit = classCache.get(name);
        if (hit != null && hit.loader == l) {
            return hit.c;
        }
        Class<?> c = tryLoad(name);
        if (c == null) {
            throw new ClassNotFoundException(name);
        }
        // A loader returns the same class for a name every time, and the policy is immutable,
        // so a later load of this name through the same loader would end the same way.
        if (classCache.size() < MAX_CACHED_CLASSES) {
            classCache.put(name, new Loaded(l, c));
        }
        return c;
    }

    /** {@link ClassPolicy#checkClass} for a receiver, remembering the last class that passed. */
    private void checkReceiverClass(Class<?> c) {
        if (c != checkedReceiverClass) {
            policy.checkClass(c);
            checkedReceiverClass = c;
        }
    }

    private Class<?> tryLoad(String name) {
        policy.checkClassName(name);
        String n = name;
        while (true) {
            try {
                Class<?> c = Class.forName(n, true, loader());
                policy.checkClass(c);
                return c;
            } catch (ClassNotFoundException | LinkageError e) {
                int dot = n.lastIndexOf('.');
                if (dot < 0) {
                    return null;
                }
                n = n.substring(0, dot) + "$" + n.substring(dot + 1);
                policy.checkClassName(n);
            }
        }
    }

    private String reflect(String name) {
        if (tryLoad(name) != null || tryLoad(name + "$") != null) {
            return "class";
        }
        int dot = name.lastIndexOf('.');
        if (dot <= 0) {
            return "none";
        }
        Class<?> owner = tryLoad(name.substring(0, dot));
        if (owner == null) {
            return "none";
        }
        String member = name.substring(dot + 1);
        for (java.lang.reflect.Method m : owner.getMethods()) {
            if (m.getName().equals(member)) {
                return "method";
            }
        }
        for (Field f : owner.getFields()) {
            if (f.getName().equals(member)) {
                return "field";
            }
        }
        return "none";
    }

    // Allocation-free readers of the request's fields: a failure is a malformed request.

    private static int action(Request r) {
        try {
            return r.action();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    private static boolean returnObjectRef(Request r) {
        try {
            return r.returnObjectRef();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    private static boolean stopOnError(Request r) {
        try {
            return r.stopOnError();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    private static long objectId(Request r) {
        try {
            return r.objectId();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    private static long releaseId(Request r, int i) {
        try {
            return r.releaseIds(i);
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    private static Request batchItem(Request r, Request item, int i) {
        try {
            return r.batch(item, i);
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    private static int batchLength(Request r) {
        int n;
        try {
            n = r.batchLength();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
        return ValueCodec.checkedLength(n, 4, r);
    }

    private static int argsLength(Request r) {
        int n;
        try {
            n = r.argsLength();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
        return ValueCodec.checkedLength(n, 4, r);
    }

    private static int releaseIdsLength(Request r) {
        int n;
        try {
            n = r.releaseIdsLength();
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
        return ValueCodec.checkedLength(n, 8, r);
    }

    private static String requireText(java.util.function.Supplier<String> s, String what) {
        String v = guard(s::get);
        if (v == null || v.isEmpty()) {
            throw new ProtocolException("request has no " + what);
        }
        return v;
    }

    /** Reads from the request buffer; any failure is a malformed request. */
    private static <T> T guard(java.util.function.Supplier<T> read) {
        try {
            return read.get();
        } catch (ProtocolException e) {
            throw e;
        } catch (RuntimeException | StackOverflowError e) {
            throw malformed(e);
        }
    }

    static ProtocolException malformed(Throwable t) {
        return new ProtocolException("malformed request: " + t, t);
    }

    // ---------------------------------------------------------------- errors

    /**
     * Encodes an error response for a throwable, unwrapping reflection wrappers so
     * Python sees the user's exception.
     *
     * @param b the builder
     * @param t the failure
     * @return the Response offset
     */
    public int errorResponse(FlatBufferBuilder b, Throwable t) {
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
        return errorResponse(b, e.getClass().getName(), message == null ? e.toString() : message, sw.toString());
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
    public int errorResponse(FlatBufferBuilder b, String className, String message, String stackTrace) {
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
