package gatun.server.callbacks;

import gatun.server.Lane;
import gatun.server.ObjectRegistry;
import gatun.server.Session;
import gatun.server.reflect.Coercion;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Python callbacks of one session: {@link Proxy} objects implementing a
 * Java interface whose abstract methods run a Python function.
 *
 * <p>A callback's id is the object id its proxy got when it was registered
 * (ids are per session). {@code toString}, {@code hashCode} and
 * {@code equals} are answered here, default interface methods run their Java
 * implementation ({@link InvocationHandler#invokeDefault}); every other method
 * goes to Python: on the lane the calling thread is serving, if it serves one
 * of this session (so the waiting Python thread runs it), else on one of the
 * session's callback lanes ({@link Session#callOnCallbackLane}).
 */
public final class Callbacks {
    private static final Object[] NO_ARGS = new Object[0];

    private final Session session;
    private final ObjectRegistry registry;
    /** Live callbacks: id -> interface. */
    private final ConcurrentHashMap<Long, Class<?>> live = new ConcurrentHashMap<>();

    /** Server counters of callbacks run and failed, or null. */
    private final gatun.server.Metrics metrics;

    /**
     * @param session the session whose Python runs the callbacks
     * @param registry its objects
     */
    public Callbacks(Session session, ObjectRegistry registry) {
        this(session, registry, null);
    }

    /**
     * @param session the session whose Python runs the callbacks
     * @param registry its objects
     * @param metrics server counters of callbacks run and failed, or null
     */
    public Callbacks(Session session, ObjectRegistry registry, gatun.server.Metrics metrics) {
        this.session = session;
        this.registry = registry;
        this.metrics = metrics;
    }

    /**
     * Makes a proxy for {@code iface} and registers it.
     *
     * @param iface the interface the callback implements
     * @return the proxy's id in the registry, which is also the callback id
     */
    public long register(Class<?> iface) {
        if (!iface.isInterface()) {
            throw new IllegalArgumentException(iface.getName() + " is not an interface; register_callback needs a "
                    + "Java interface such as java.util.Comparator or java.util.function.Function");
        }
        Handler h = new Handler(iface);
        Object proxy = Proxy.newProxyInstance(iface.getClassLoader(), new Class<?>[] {iface}, h);
        long id = registry.register(proxy);
        h.id = id;
        live.put(id, iface);
        return id;
    }

    /**
     * Forgets callback {@code id}: its proxy throws from now on.
     *
     * @param id the callback id
     */
    public void unregister(long id) {
        if (live.remove(id) == null) {
            throw new IllegalArgumentException("no callback " + id + " is registered in this session");
        }
    }

    /** @return live callbacks */
    int size() {
        return live.size();
    }

    private Object call(long id, Class<?> iface, Method m, Object[] args) {
        if (metrics == null) {
            return callPython(id, iface, m, args);
        }
        metrics.callbacks.increment();
        try {
            return callPython(id, iface, m, args);
        } catch (RuntimeException | Error e) {
            metrics.callbackErrors.increment();
            throw e;
        }
    }

    private Object callPython(long id, Class<?> iface, Method m, Object[] args) {
        if (session.ended()) {
            throw new IllegalStateException("Python callback " + id + " (" + Lane.describe(m)
                    + ") cannot run: the Python session that registered it has ended");
        }
        if (!live.containsKey(id)) {
            throw new IllegalStateException("Python callback " + id + " (" + iface.getName()
                    + ") was unregistered; " + Lane.describe(m) + " cannot run");
        }
        Lane lane = Lane.servingFor(session);
        Object result = lane != null ? lane.callPython(id, m, args) : session.callOnCallbackLane(id, m, args);
        return returnValue(id, m, result);
    }

    /** Converts what Python returned to the method's return type, or says why it cannot. */
    private static Object returnValue(long id, Method m, Object result) {
        Class<?> rt = m.getReturnType();
        if (rt == void.class) {
            return null;
        }
        Object v = Coercion.coerce(result, rt);
        if (v == Coercion.NO_MATCH) {
            String got = result == null ? "None (null)"
                    : "a " + result.getClass().getName() + " (" + abbreviate(String.valueOf(result)) + ")";
            throw new ClassCastException("Python callback " + id + " for " + Lane.describe(m) + " must return "
                    + rt.getName() + ", but it returned " + got);
        }
        return v;
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    /** The proxy's handler; {@link #id} is set right after the proxy is registered. */
    private final class Handler implements InvocationHandler {
        private final Class<?> iface;
        volatile long id;

        Handler(Class<?> iface) {
            this.iface = iface;
        }

        @Override
        public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
            if (m.getDeclaringClass() == Object.class) {
                switch (m.getName()) {
                    case "toString":
                        return "PythonCallback[" + id + "]@" + iface.getName();
                    case "hashCode":
                        return System.identityHashCode(proxy);
                    case "equals":
                        return proxy == args[0];
                    default:
                        break;
                }
            }
            if (m.isDefault()) {
                return InvocationHandler.invokeDefault(proxy, m, args);
            }
            return call(id, iface, m, args == null ? NO_ARGS : args);
        }
    }
}
