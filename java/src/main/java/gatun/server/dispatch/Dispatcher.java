package gatun.server.dispatch;

import static gatun.server.dispatch.RequestReader.action;
import static gatun.server.dispatch.RequestReader.argsLength;
import static gatun.server.dispatch.RequestReader.guard;
import static gatun.server.dispatch.RequestReader.malformed;
import static gatun.server.dispatch.RequestReader.objectId;
import static gatun.server.dispatch.RequestReader.releaseId;
import static gatun.server.dispatch.RequestReader.releaseIdsLength;
import static gatun.server.dispatch.RequestReader.requireText;
import static gatun.server.dispatch.RequestReader.returnObjectRef;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import gatun.protocol.JavaError;
import gatun.protocol.Request;
import gatun.protocol.Response;
import gatun.protocol.Value;
import gatun.server.Metrics;
import gatun.server.ObjectRegistry;
import gatun.server.ProtocolException;
import gatun.server.UnknownObjectException;
import gatun.server.ValueCodec.Arg;
import gatun.server.ValueCodec;
import gatun.server.arrow.ArrowSession;
import gatun.server.arrow.BridgeArrowReader;
import gatun.server.arrow.StagedBatch;
import gatun.server.callbacks.CallbackMessages;
import gatun.server.callbacks.Callbacks;
import gatun.server.limits.LimitExceededException;
import gatun.server.limits.SessionQuota;
import gatun.server.reflect.ClassLoading;
import gatun.server.reflect.ClassPolicy;
import gatun.server.reflect.Coercion;
import gatun.server.reflect.MethodResolver;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.util.function.LongSupplier;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;

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
    private final ObjectRegistry registry;
    private final MethodResolver resolver;
    private final ClassPolicy policy;
    private final Metrics metrics;
    private final LongSupplier liveSessions;
    private final ArrowSession arrow;
    private final Callbacks callbacks;
    private final ClassLoading classes;
    private final Responses responses;
    private final BatchRunner batches;
    private final CallbackMessages callbackMessages;

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
        this.classes = new ClassLoading(policy);
        this.responses = new Responses(metrics);
        this.batches = new BatchRunner(this, metrics, responses);
        this.callbackMessages = new CallbackMessages(registry, policy, metrics);
    }

    /** @return the session's limits and usage */
    SessionQuota quota() {
        return registry.quota();
    }

    /** @return the encoder of this session's callback calls and decoder of their replies */
    public CallbackMessages callbackMessages() {
        return callbackMessages;
    }

    /**
     * Encodes an error response for a throwable ({@link Responses#error(FlatBufferBuilder, Throwable)}).
     *
     * @param b the builder
     * @param t the failure
     * @return the Response offset
     */
    public int errorResponse(FlatBufferBuilder b, Throwable t) {
        return responses.error(b, t);
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
        SessionQuota quota = registry.quota();
        boolean counted;
        try {
            counted = quota.begin(); // fails once the session idled out
        } catch (SessionQuota.SessionIdleException e) {
            metrics.requests.increment();
            return responses.error(b, e);
        }
        scratch.begin(ClassLoading.loader(), request.remaining() / 4 + 16);
        try {
            Request r;
            try {
                if (request.remaining() < 8) {
                    throw new ProtocolException("request of " + request.remaining() + " bytes is too short");
                }
                r = Request.getRootAsRequest(request, scratch.root);
            } catch (RuntimeException e) {
                metrics.requests.increment();
                return responses.error(b, e instanceof ProtocolException ? e : malformed(e));
            }
            return run(b, r, scratch, 0, null, slot / 2);
        } finally {
            scratch.end();
            quota.end(counted);
        }
    }

    /**
     * Runs one request; sets {@code s.failed[depth]} if it answered with an error.
     * {@code scope} is the enclosing batch's (null outside a batch).
     */
    int run(FlatBufferBuilder b, Request r, DispatchScratch s, int depth, BatchScope scope, int replyBudget) {
        metrics.requests.increment();
        // A batch is timed as a whole; its items are counted, not timed (two
        // clock reads would be a third of a small item's cost).
        long start = depth == 0 ? System.nanoTime() : 0;
        boolean failedBefore = s.failed[depth];
        s.failed[depth] = false;
        int action = -1;
        int out;
        try {
            action = action(r);
            out = runAction(b, r, s, depth, scope, replyBudget, action);
        } catch (Throwable t) {
            s.failed[depth] = true;
            if (t instanceof LimitExceededException) {
                metrics.limitsExceeded.increment();
            }
            out = responses.error(b, t);
        }
        boolean failed = s.failed[depth];
        s.failed[depth] = failedBefore || failed;
        metrics.record(action, depth == 0 ? System.nanoTime() - start : -1, failed);
        if (depth > 0) {
            metrics.batchItems.increment();
        }
        return out;
    }

    /** {@link #run} of a request whose action is read; throws what the request fails with. */
    private int runAction(FlatBufferBuilder b, Request r, DispatchScratch s, int depth, BatchScope scope,
                          int replyBudget, int action) throws Throwable {
        if (action == Action.Batch) {
            return batches.run(b, r, s, depth, replyBudget);
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
            value = CallbackMessages.proxyReference(b, (Long) result, s.names.className(r));
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
        return Responses.value(b, value);
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
                Class<?> c = classes.loadClass(s.names.className(r));
                Arg[] args = args(r, s);
                return invoke(resolver.resolveConstructor(c, args), null, args, s);
            }
            case Action.InvokeMethod: {
                Object target = registry.get(objectId(r), s.ctx.id);
                String name = s.names.name(r);
                Arg[] args = args(r, s);
                classes.checkReceiverClass(target.getClass());
                Object result = invoke(resolver.resolveMethod(target.getClass(), name, args, false, s.lastMethod),
                        target, args, s);
                if (registry.unseenByJava(target) && mayShareWithJava(result, r)) {
                    registry.seenByJava(target); // e.g. a vector of the root, kept by reference
                }
                return result;
            }
            case Action.InvokeStaticMethod: {
                Class<?> c = classes.loadClass(s.names.className(r));
                String name = s.names.name(r);
                Arg[] args = args(r, s);
                MethodResolver.Resolved m;
                try {
                    m = resolver.resolveMethod(c, name, args, true, s.lastMethod);
                } catch (NoSuchMethodException e) {
                    // A Scala companion's method the class has no static forwarder for
                    // (scala.math.BigDecimal.apply: the class has an apply of its own).
                    Object module = classes.companion(c);
                    if (module == null) {
                        throw e;
                    }
                    classes.checkReceiverClass(module.getClass());
                    return invoke(resolver.resolveMethod(module.getClass(), name, args, false), module, args, s);
                }
                return invoke(m, null, args, s);
            }
            case Action.GetField: {
                Object target = registry.get(guard(r::objectId));
                Field f = classes.findField(target.getClass(), requireText(r::name, "name"), false);
                Object result = f.get(target);
                if (registry.unseenByJava(target) && mayShareWithJava(result, r)) {
                    registry.seenByJava(target);
                }
                return result;
            }
            case Action.SetField: {
                Object target = registry.get(guard(r::objectId));
                Field f = classes.findField(target.getClass(), requireText(r::name, "name"), false);
                setField(f, target, r, s);
                return null;
            }
            case Action.GetStaticField: {
                Class<?> c = classes.loadClass(requireText(r::className, "class_name"));
                return classes.findField(c, requireText(r::name, "name"), true).get(null);
            }
            case Action.SetStaticField: {
                Class<?> c = classes.loadClass(requireText(r::className, "class_name"));
                Field f = classes.findField(c, requireText(r::name, "name"), true);
                setField(f, null, r, s);
                return null;
            }
            case Action.Reflect:
                return classes.reflect(requireText(r::className, "class_name"));
            case Action.IsInstanceOf: {
                Object target = registry.get(guard(r::objectId));
                return classes.loadClass(requireText(r::className, "class_name")).isInstance(target);
            }
            case Action.GetMetrics:
                // The layout of upstream Gatun's report, which scripts parse.
                return metrics.report(liveSessions.getAsLong(),
                        "current_objects", registry.size(),
                        "peak_objects", registry.quota().peakObjects(),
                        "arrow_bytes_held", registry.quota().arrowBytesHeld(),
                        "resolutions_cached", resolver.cacheSize(),
                        "arena_regions", arrow == null ? 0 : arrow.ledger().liveRegions());
            case Action.SetLimits:
                return setLimits(r, s);
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
                return requireCallbacks(action).register(classes.loadClass(s.names.className(r)));
            case Action.UnregisterCallback:
                requireCallbacks(action).unregister(objectId(r));
                return null;
            case Action.CallbackReply:
                throw new ProtocolException("a CallbackReply arrived, but no callback is waiting for one on this lane");
            default:
                throw new ProtocolException("unknown action " + action);
        }
    }

    /** SetLimits: lowers the session's limits by args[0] (a Map); answers every limit in force. */
    private Object setLimits(Request r, DispatchScratch s) throws ClassNotFoundException {
        Arg[] args = args(r, s);
        if (args.length != 1 || !(args[0].value instanceof java.util.Map)) {
            throw new IllegalArgumentException("SetLimits needs one argument, a map of limit name to value");
        }
        return new java.util.HashMap<>(registry.quota().lower((java.util.Map<?, ?>) args[0].value).asMap());
    }

    private Callbacks requireCallbacks(int action) {
        if (callbacks == null) {
            throw new UnsupportedOperationException(Action.name(action) + " needs a session with callbacks");
        }
        return callbacks;
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
        if (id == gatun.server.shm.Layout.PULLING_READER) {
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
    void releaseSkippedBatch(Request r, Request item, int i) {
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

    void releaseIds(Request r, DispatchScratch s) {
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
            } catch (UnknownObjectException | ClassCastException | SecurityException | ProtocolException
                     | LimitExceededException e) {
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
        policy.checkFieldWrite(f);
        Object v = Coercion.coerce(args[0].value, f.getType());
        if (v == Coercion.NO_MATCH) {
            throw new IllegalArgumentException("a " + args[0] + " value cannot be stored in field "
                    + f.getDeclaringClass().getName() + "." + f.getName() + " of type " + f.getType().getName());
        }
        f.set(target, v);
    }


}
