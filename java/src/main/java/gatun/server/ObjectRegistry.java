package gatun.server;

import gatun.server.dispatch.ResponseJournal;
import gatun.server.limits.Limits;
import gatun.server.limits.SessionQuota;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Java objects one session's Python proxies refer to, by id.
 *
 * <p>Ids start at 1 and are never reused within a session. The same Java
 * object registered twice gets two ids, because each Python proxy releases its
 * own. The number of live objects is capped by the session's
 * {@link SessionQuota} ({@code -Dgatun.limits.max_objects}, default 1,000,000).
 */
public final class ObjectRegistry {
    /** System property naming the per-session object limit. */
    public static final String MAX_OBJECTS_PROPERTY = "gatun.limits.max_objects";

    /** Keyed by {@link Id}, not Long: a lookup with a caller's probe boxes nothing (ids soon pass 127). */
    private final ConcurrentHashMap<Id, Object> objects = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong(1);
    private final SessionQuota quota;
    /** Server counters (live and peak objects over all sessions), or null. */
    private final Metrics metrics;

    /**
     * Arrow objects the bridge made for Python (a root from {@code send_arrow},
     * a stream's reader) that no Java code has been given yet: nothing in the
     * JVM can hold them but this registry, so the bridge closes one when
     * Python releases its last id (its memory back at once). Once passed to
     * Java code (an argument, a callback's result) or asked for an object it
     * may share (a method result kept by reference), an object is Java's and
     * is never closed by the bridge.
     */
    private final java.util.Set<Object> unseen =
            java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    /** {@code unseen.size()}, read without the lock on the hot path. */
    private volatile int unseenCount;

    /** Creates a registry with the limits of the {@code gatun.limits.*} system properties. */
    public ObjectRegistry() {
        this(new SessionQuota(Limits.fromSystemProperties()), null);
    }

    /**
     * @param maxObjects most live objects allowed (other limits: the defaults)
     */
    public ObjectRegistry(long maxObjects) {
        this(new SessionQuota(new Limits(maxObjects, Limits.DEFAULTS.maxStringLength(),
                Limits.DEFAULTS.maxListEntries(), Limits.DEFAULTS.maxNestingDepth(), Limits.DEFAULTS.maxBatchSize(),
                Limits.DEFAULTS.maxMethodCalls(), Limits.DEFAULTS.maxCreateObjects(), 0,
                Limits.DEFAULTS.maxArrowBytes())), null);
    }

    /**
     * @param quota the session's limits
     * @param metrics server counters to keep the object counts of, or null
     */
    public ObjectRegistry(SessionQuota quota, Metrics metrics) {
        this.quota = quota;
        this.metrics = metrics;
    }

    /** @return the session's limits and usage */
    public SessionQuota quota() {
        return quota;
    }

    /**
     * Registers an object and returns its new id.
     *
     * @param obj a non-null object
     * @return a fresh id
     * @throws IllegalStateException if the session holds the maximum number of objects
     */
    public long register(Object obj) {
        if (obj == null) {
            throw new IllegalArgumentException("null cannot be registered");
        }
        quota.checkObjects(objects.size());
        long id = nextId.getAndIncrement();
        objects.put(new Id(id), obj);
        quota.objectsNow(objects.size());
        if (metrics != null) {
            metrics.objects(1);
        }
        ResponseJournal.current().registered(this, id);
        return id;
    }

    /**
     * @param id an id issued by this registry
     * @return the object
     * @throws UnknownObjectException if the id is not live in this session
     */
    public Object get(long id) {
        return get(id, new Id(0));
    }

    /**
     * {@link #get(long)} looking up with {@code probe}, which it overwrites:
     * a caller that keeps one probe per thread looks objects up without
     * allocating.
     *
     * @param id an id issued by this registry
     * @param probe the caller's, used by one thread at a time
     * @return the object
     * @throws UnknownObjectException if the id is not live in this session
     */
    public Object get(long id, Id probe) {
        probe.value = id;
        Object o = objects.get(probe);
        if (o == null) {
            throw new UnknownObjectException(id);
        }
        return o;
    }

    /**
     * Marks a registered Arrow object the bridge made for Python that no Java
     * code has seen yet (see {@link #seenByJava}).
     *
     * @param obj an object already registered
     */
    public void markUnseen(AutoCloseable obj) {
        synchronized (unseen) {
            unseen.add(obj);
            unseenCount = unseen.size();
        }
    }

    /**
     * {@code obj} is handed to Java code (or may share its memory with what
     * is): the bridge will never close it.
     *
     * @param obj any object
     */
    public void seenByJava(Object obj) {
        if (unseenCount == 0 || obj == null) {
            return;
        }
        synchronized (unseen) {
            unseen.remove(obj);
            unseenCount = unseen.size();
        }
    }

    /**
     * @param obj any object
     * @return whether it is an Arrow object no Java code has seen yet
     */
    public boolean unseenByJava(Object obj) {
        if (unseenCount == 0 || obj == null) {
            return false;
        }
        synchronized (unseen) {
            return unseen.contains(obj);
        }
    }

    /**
     * {@link #get(long, Id)} for an argument of a call: the object is handed
     * to Java code.
     *
     * @param id an id issued by this registry
     * @param probe the caller's, used by one thread at a time
     * @return the object
     */
    Object getArgument(long id, Id probe) {
        Object o = get(id, probe);
        seenByJava(o);
        return o;
    }

    /**
     * Releases an id; unknown ids are ignored. The object itself is left as
     * it is (Java code may still use it: what Python sent, Java owns), unless
     * it is an Arrow object no Java code has seen, which is closed once no id
     * refers to it.
     *
     * @param id the id to drop
     */
    public void release(long id) {
        release(id, new Id(0));
    }

    /**
     * {@link #release(long)} looking up with {@code probe}, which it overwrites.
     *
     * @param id the id to drop
     * @param probe the caller's, used by one thread at a time
     */
    public void release(long id, Id probe) {
        probe.value = id;
        Object o = objects.remove(probe);
        if (o != null && metrics != null) {
            metrics.objects(-1);
        }
        if (o == null || unseenCount == 0) {
            return;
        }
        synchronized (unseen) {
            if (!unseen.contains(o) || objects.containsValue(o)) {
                return;
            }
            unseen.remove(o);
            unseenCount = unseen.size();
        }
        closeQuietly(o);
    }

    private static void closeQuietly(Object o) {
        try {
            ((AutoCloseable) o).close();
        } catch (Exception e) {
            ServerLog.LOG.warning("closing a released " + o.getClass().getName() + " failed: " + e);
        }
    }

    /** @return live objects */
    public int size() {
        return objects.size();
    }

    /** Drops every object (the session ended). */
    public void clear() {
        if (metrics != null) {
            metrics.objects(-objects.size());
        }
        objects.clear();
        synchronized (unseen) {
            unseen.clear();
            unseenCount = 0;
        }
    }

    /**
     * Drops every object and returns them (the session ended).
     *
     * @return the objects that were registered
     */
    public java.util.List<Object> drain() {
        java.util.List<Object> out = new java.util.ArrayList<>(objects.size());
        for (Id id : new java.util.ArrayList<>(objects.keySet())) {
            Object o = objects.remove(id);
            if (o != null) {
                out.add(o);
            }
        }
        if (metrics != null) {
            metrics.objects(-out.size());
        }
        java.util.List<Object> neverSeen;
        synchronized (unseen) {
            neverSeen = new java.util.ArrayList<>(unseen);
            unseen.clear();
            unseenCount = 0;
        }
        for (Object o : neverSeen) {
            closeQuietly(o); // only the session could reach it
        }
        return out;
    }

    /**
     * An id as a map key. The keys in the map never change; a probe (a
     * caller's, thread-confined) is rewritten for each lookup and never
     * stored, as the map keeps only the keys {@link #register} puts.
     */
    public static final class Id {
        long value;

        /**
         * @param value the id
         */
        Id(long value) {
            this.value = value;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(value);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Id && ((Id) o).value == value;
        }
    }
}
