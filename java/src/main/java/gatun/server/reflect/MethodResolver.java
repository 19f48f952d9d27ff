package gatun.server.reflect;

import gatun.server.ServerLog;
import gatun.server.ValueCodec.Arg;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * Overload resolution and invocation through {@link MethodHandle}s.
 *
 * <p>Candidates are the public methods (or constructors) with the requested
 * name and arity. Each argument is scored against its parameter by
 * {@link ArgumentCost} (exact &lt; widening &lt; boxing &lt; supertypes &lt;
 * Object; a type hint fixes the argument's type). Varargs candidates are tried only
 * when no fixed-arity candidate matches. The cheapest candidate wins; a tie is
 * broken by Java's "most specific" rule, and a remaining tie is an
 * {@link IllegalArgumentException} listing the candidates. Resolutions are
 * cached per (class, name, argument types).
 *
 * <p>Example: {@code Math.pow(2, 10)} with two wire ints resolves to
 * {@code pow(double,double)} by widening.
 */
public final class MethodResolver {
    private final ConcurrentHashMap<Key, Resolved> cache = new ConcurrentHashMap<>();
    private final ClassPolicy policy;

    /**
     * @param policy the policy checked before every invocation
     */
    public MethodResolver(ClassPolicy policy) {
        this.policy = policy;
    }

    /** A resolved method or constructor, ready to invoke. */
    public static final class Resolved {
        /** The chosen method or constructor (possibly a public supertype's). */
        public final Executable target;
        private final Class<?>[] params;
        private final boolean varargs;
        private final boolean hasReceiver;
        private final MethodHandle invoker;
        /** Set once {@link ClassPolicy#checkInvocation} has passed for a receiver of this class. */
        private volatile Class<?> checkedReceiver;
        /** True once the policy passed for this target with no receiver. */
        private volatile boolean checkedStatic;
        /** forName/loadClass: arguments are names the policy must see every time. */
        private final boolean namesClasses;
        /** A parameter is an ArrowReader: a root passed there becomes a reader for the call. */
        private final boolean takesReader;

        Resolved(Executable target, boolean varargs, MethodHandle handle) {
            this.target = target;
            this.params = target.getParameterTypes();
            this.varargs = varargs;
            this.hasReceiver = target instanceof Method && !Modifier.isStatic(target.getModifiers());
            MethodHandle h = handle.asFixedArity();
            h = h.asType(h.type().generic());
            this.invoker = h.asSpreader(Object[].class, h.type().parameterCount());
            Class<?> dc = target.getDeclaringClass();
            this.namesClasses = target instanceof Method && (dc == Class.class || ClassLoader.class.isAssignableFrom(dc))
                    && (target.getName().equals("forName") || target.getName().equals("loadClass"))
                    || ClassPolicy.opensMembers(target);
            boolean reader = false;
            for (Class<?> p : params) {
                reader |= org.apache.arrow.vector.ipc.ArrowReader.class.isAssignableFrom(p);
            }
            this.takesReader = reader;
        }

        /** @return the length of the array {@link MethodResolver#invoke} passes: receiver (if any) and parameters */
        public int callLength() {
            return (hasReceiver ? 1 : 0) + params.length;
        }

        /** Converts into {@code out} from {@code off} on (see {@link #convert}). */
        void convertInto(Arg[] args, Object[] out, int off) {
            int fixed = varargs ? params.length - 1 : params.length;
            for (int i = 0; i < fixed; i++) {
                out[off + i] = convertOne(args[i].value, params[i], i);
            }
            if (varargs) {
                Class<?> comp = params[params.length - 1].getComponentType();
                int n = args.length - fixed;
                Object arr = java.lang.reflect.Array.newInstance(comp, n);
                for (int i = 0; i < n; i++) {
                    java.lang.reflect.Array.set(arr, i, convertOne(args[fixed + i].value, comp, fixed + i));
                }
                out[off + params.length - 1] = arr;
            }
        }

        /**
         * Converts the arguments to the parameter types and packs varargs.
         *
         * @param args decoded arguments
         * @return the values to pass, one per parameter
         */
        public Object[] convert(Arg[] args) {
            Object[] out = new Object[params.length];
            convertInto(args, out, 0);
            return out;
        }

        private static Object convertOne(Object v, Class<?> p, int index) {
            Object c = Coercion.coerce(v, p);
            if (c == Coercion.NO_MATCH) {
                throw new IllegalArgumentException("argument " + index + " ("
                        + (v == null ? "null" : v.getClass().getName()) + ") cannot be converted to " + p.getName());
            }
            return c;
        }

        /**
         * Invokes the target. Exceptions thrown by user code propagate unwrapped.
         *
         * @param receiver the instance, ignored for static methods and constructors
         * @param converted values from {@link #convert}
         * @return the result (null for void)
         * @throws Throwable whatever the target throws
         */
        public Object invoke(Object receiver, Object[] converted) throws Throwable {
            Object[] call;
            if (hasReceiver) {
                call = new Object[converted.length + 1];
                call[0] = Objects.requireNonNull(receiver, "receiver");
                System.arraycopy(converted, 0, call, 1, converted.length);
            } else {
                call = converted;
            }
            return (Object) invoker.invokeExact(call);
        }
    }

    /**
     * Resolves a method.
     *
     * @param c the class searched (the receiver's runtime class or the static class)
     * @param name method name
     * @param args decoded arguments
     * @param staticOnly only static methods qualify
     * @return the resolution
     * @throws NoSuchMethodException if nothing matches
     * @throws IllegalArgumentException if the best candidates tie
     */
    public Resolved resolveMethod(Class<?> c, String name, Arg[] args, boolean staticOnly)
            throws NoSuchMethodException {
        return resolveMethod(c, name, args, staticOnly, null);
    }

    /**
     * The last method a caller resolved, so that resolving the same call again
     * (the items of a batch, or a thread's requests calling one method) costs a
     * comparison instead of a cache lookup; another call is looked up with this
     * object's key refilled in place, so no key is built on a cache hit either.
     * Not thread-safe: one per thread (a dispatcher's {@link DispatchScratch}).
     */
    public static final class LastMethod {
        /** The last call looked up; a probe rewritten by every lookup, never stored in the cache. */
        private final Key key = new Key();
        /** What {@link #key} resolved to, or null if it did not resolve to a cached method. */
        private Resolved resolved;
    }

    /**
     * Resolves a method, as {@link #resolveMethod(Class, String, Arg[], boolean)},
     * answering from {@code last} when it holds the same call.
     *
     * @param c the class searched (the receiver's runtime class or the static class)
     * @param name method name
     * @param args decoded arguments
     * @param staticOnly only static methods qualify
     * @param last the caller's last resolution (updated), or null
     * @return the resolution
     * @throws NoSuchMethodException if nothing matches
     * @throws IllegalArgumentException if the best candidates tie
     */
    public Resolved resolveMethod(Class<?> c, String name, Arg[] args, boolean staticOnly, LastMethod last)
            throws NoSuchMethodException {
        byte kind = staticOnly ? KIND_STATIC : KIND_INSTANCE;
        Key key;
        if (last != null) {
            if (last.resolved != null && last.key.matches(kind, c, name, args)) {
                return last.resolved;
            }
            last.resolved = null;
            key = last.key.set(kind, c, name, args);
        } else {
            key = new Key().set(kind, c, name, args);
        }
        Resolved r = cache.get(key);
        if (r != null) {
            if (last != null) {
                last.resolved = r;
            }
            return r;
        }
        Map<String, Method> bySig = new LinkedHashMap<>();
        for (Method m : c.getMethods()) {
            if (!m.getName().equals(name) || (staticOnly && !Modifier.isStatic(m.getModifiers()))) {
                continue;
            }
            String sig = Arrays.toString(m.getParameterTypes());
            Method prev = bySig.get(sig);
            if (prev == null || preferOver(m, prev)) {
                bySig.put(sig, m);
            }
        }
        List<Executable> candidates = new ArrayList<>(bySig.values());
        Choice ch = choose(candidates, args);
        if (ch == null) {
            throw new NoSuchMethodException("no method " + name + "(" + argList(args) + ") in " + c.getName()
                    + "; candidates: " + describe(candidates));
        }
        Method m = (Method) ch.target;
        Object[] found = methodHandle(c, m);
        r = new Resolved((Method) found[0], ch.varargs, (MethodHandle) found[1]);
        if (!ch.valueDependent) {
            cache.put(key.copy(), r);
        }
        trace(c.getName() + "." + name, args, candidates.size(), r.target);
        return r;
    }

    /** Trace mode ({@code -Dgatun.trace=true}): each resolution that was not cached. */
    private static void trace(String call, Arg[] args, int candidates, Executable chosen) {
        if (gatun.server.ServerLog.tracing()) {
            gatun.server.ServerLog.RESOLVE.fine("resolved " + call + "(" + argList(args) + ") among " + candidates
                    + " candidate(s): " + chosen);
        }
    }

    /**
     * Resolves a public constructor.
     *
     * @param c the class to instantiate
     * @param args decoded arguments
     * @return the resolution
     * @throws NoSuchMethodException if nothing matches
     * @throws InstantiationException if the class is abstract or an interface
     */
    public Resolved resolveConstructor(Class<?> c, Arg[] args) throws NoSuchMethodException, InstantiationException {
        if (c.isInterface() || Modifier.isAbstract(c.getModifiers()) || c.isPrimitive() || c.isArray()) {
            throw new InstantiationException(c.getName() + " is abstract or an interface and cannot be instantiated");
        }
        Key key = new Key().set(KIND_CONSTRUCTOR, c, null, args);
        Resolved r = cache.get(key);
        if (r != null) {
            return r;
        }
        List<Executable> candidates = new ArrayList<>(Arrays.asList(c.getConstructors()));
        Choice ch = choose(candidates, args);
        if (ch == null) {
            throw new NoSuchMethodException("no constructor " + c.getName() + "(" + argList(args) + ")"
                    + "; candidates: " + describe(candidates));
        }
        Constructor<?> k = (Constructor<?>) ch.target;
        MethodHandle h;
        try {
            h = MethodHandles.publicLookup().unreflectConstructor(k);
        } catch (IllegalAccessException e) {
            throw new SecurityException("constructor " + k + " is not accessible: " + e.getMessage(), e);
        }
        r = new Resolved(k, ch.varargs, h);
        if (!ch.valueDependent) {
            cache.put(key, r);
        }
        trace("new " + c.getName(), args, candidates.size(), k);
        return r;
    }

    /**
     * Checks the policy and invokes.
     *
     * @param r the resolution
     * @param receiver the instance or null
     * @param args decoded arguments
     * @return the result
     * @throws Throwable whatever the target throws
     */
    public Object invoke(Resolved r, Object receiver, Arg[] args) throws Throwable {
        return invoke(r, receiver, args, new Object[r.callLength()]);
    }

    /**
     * Checks the policy and invokes, passing the values through {@code call}:
     * a caller that reuses its arrays (one per length) invokes without
     * allocating. The method handle spreads the array into the call, so the
     * target never sees it; the caller clears it when it wants the values gone.
     *
     * @param r the resolution
     * @param receiver the instance or null
     * @param args decoded arguments
     * @param call an array of {@link Resolved#callLength()} elements, overwritten
     * @return the result
     * @throws Throwable whatever the target throws
     */
    public Object invoke(Resolved r, Object receiver, Arg[] args, Object[] call) throws Throwable {
        int off = r.hasReceiver ? 1 : 0;
        r.convertInto(args, call, off);
        checkPolicy(r, receiver, call, off);
        if (off != 0) {
            call[0] = Objects.requireNonNull(receiver, "receiver");
        }
        if (!r.takesReader) {
            return (Object) r.invoker.invokeExact(call);
        }
        Object result = null;
        try {
            return result = (Object) r.invoker.invokeExact(call);
        } finally {
            closeCallReaders(args, call, off, result);
        }
    }

    /**
     * Closes the readers made for this call from roots (see
     * {@link Coercion#coerce}), unless the method returned one: the root
     * stays Python's, the reader was only a view of it for the call.
     */
    private static void closeCallReaders(Arg[] args, Object[] call, int off, Object result) {
        for (int i = off; i < call.length && i - off < args.length; i++) {
            if (call[i] instanceof gatun.server.arrow.BridgeArrowReader && call[i] != args[i - off].value
                    && call[i] != result) {
                try {
                    ((gatun.server.arrow.BridgeArrowReader) call[i]).close();
                } catch (java.io.IOException | RuntimeException e) {
                    ServerLog.LOG.warning("closing a call's ArrowReader view failed: " + e);
                }
            }
        }
    }

    /**
     * {@link ClassPolicy#checkInvocation}, skipped when its outcome is already known:
     * the policy is immutable, so for the same target and receiver class, with no
     * argument or receiver that is a Member or Class and a target that does not take
     * class names, it would only repeat checks that passed before.
     *
     * <p>The receiver's class is compared first: {@code checkedReceiver} is only
     * ever a class that is neither a Member nor a Class, so a match answers both.
     */
    private void checkPolicy(Resolved r, Object receiver, Object[] call, int off) {
        boolean known = !r.namesClasses && (receiver == null ? r.checkedStatic
                : receiver.getClass() == r.checkedReceiver);
        boolean plain = known || !r.namesClasses && !namesMember(receiver);
        for (int i = off; plain && i < call.length; i++) {
            plain = !namesMember(call[i]);
        }
        if (plain && known) {
            return;
        }
        policy.checkInvocation(r.target, receiver, off == 0 ? call : Arrays.copyOfRange(call, off, call.length));
        if (plain) {
            if (receiver == null) {
                r.checkedStatic = true;
            } else {
                r.checkedReceiver = receiver.getClass();
            }
        }
    }

    /**
     * Whether {@code a} is something the policy looks at: a {@link Member} or a
     * {@link Class}. The usual arguments, boxed values and strings, are told
     * apart by their class: {@code instanceof Member} of any other object is an
     * interface check, which HotSpot answers by scanning the class's interfaces
     * (it was the largest cost of a batched {@code add}).
     */
    private static boolean namesMember(Object a) {
        if (a == null) {
            return false;
        }
        Class<?> k = a.getClass();
        if (k == Integer.class || k == Long.class || k == String.class || k == Double.class || k == Boolean.class) {
            return false;
        }
        return a instanceof Member || a instanceof Class<?>;
    }

    /** @return resolutions cached */
    public int cacheSize() {
        return cache.size();
    }

    // ---------------------------------------------------------------- choice

    private static final class Choice {
        final Executable target;
        final boolean varargs;
        final boolean valueDependent;

        Choice(Executable target, boolean varargs, boolean valueDependent) {
            this.target = target;
            this.varargs = varargs;
            this.valueDependent = valueDependent;
        }
    }

    private static Choice choose(List<Executable> candidates, Arg[] args) {
        Choice c = choosePhase(candidates, args, false);
        if (c == null) {
            c = choosePhase(candidates, args, true);
        }
        return c;
    }

    private static Choice choosePhase(List<Executable> candidates, Arg[] args, boolean varargs) {
        int best = Integer.MAX_VALUE;
        List<Executable> bests = new ArrayList<>();
        for (Executable e : candidates) {
            if (varargs && !e.isVarArgs()) {
                continue;
            }
            int s = score(e, args, varargs);
            if (s < 0) {
                continue;
            }
            if (s < best) {
                best = s;
                bests.clear();
            }
            if (s == best) {
                bests.add(e);
            }
        }
        if (bests.isEmpty()) {
            return null;
        }
        Executable winner = bests.get(0);
        if (bests.size() > 1) {
            winner = mostSpecific(bests);
            if (winner == null) {
                throw new IllegalArgumentException("ambiguous call " + bests.get(0).getName() + "("
                        + argList(args) + "): equally good candidates " + describe(bests));
            }
        }
        return new Choice(winner, varargs, valueDependent(winner, args, varargs));
    }

    private static boolean valueDependent(Executable e, Arg[] args, boolean varargs) {
        Class<?>[] p = e.getParameterTypes();
        for (int i = 0; i < args.length; i++) {
            Class<?> t = varargs && i >= p.length - 1 ? p[p.length - 1].getComponentType() : p[i];
            int c = ArgumentCost.cost(args[i], t);
            if (c >= ArgumentCost.NARROWING || (t.isArray() && args[i].value instanceof List)) {
                return true;
            }
        }
        return false;
    }

    private static int score(Executable e, Arg[] args, boolean varargs) {
        Class<?>[] p = e.getParameterTypes();
        int total = 0;
        if (!varargs) {
            if (p.length != args.length) {
                return -1;
            }
            for (int i = 0; i < p.length; i++) {
                int c = ArgumentCost.cost(args[i], p[i]);
                if (c < 0) {
                    return -1;
                }
                total += c;
            }
            return total;
        }
        int fixed = p.length - 1;
        if (args.length < fixed) {
            return -1;
        }
        Class<?> comp = p[fixed].getComponentType();
        for (int i = 0; i < args.length; i++) {
            int c = ArgumentCost.cost(args[i], i < fixed ? p[i] : comp);
            if (c < 0) {
                return -1;
            }
            total += c;
        }
        return total;
    }

    private static Executable mostSpecific(List<Executable> bests) {
        Executable found = null;
        for (Executable e : bests) {
            boolean all = true;
            for (Executable o : bests) {
                if (o == e) {
                    continue;
                }
                Class<?>[] pe = e.getParameterTypes();
                Class<?>[] po = o.getParameterTypes();
                if (pe.length != po.length) {
                    all = false;
                    break;
                }
                for (int i = 0; i < pe.length && all; i++) {
                    all = ArgumentCost.subtype(pe[i], po[i]);
                }
                if (!all) {
                    break;
                }
            }
            if (all) {
                if (found != null) {
                    return null;
                }
                found = e;
            }
        }
        return found;
    }

    /** Among methods with equal parameters, prefer non-bridge methods with the more specific return type. */
    private static boolean preferOver(Method m, Method prev) {
        if (prev.isBridge() != m.isBridge()) {
            return prev.isBridge();
        }
        return prev.getReturnType() != m.getReturnType() && prev.getReturnType().isAssignableFrom(m.getReturnType());
    }

    // ------------------------------------------------------------ accessibility

    private static boolean accessible(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getDeclaringClass()) {
            if (!Modifier.isPublic(k.getModifiers())) {
                return false;
            }
        }
        return c.getModule().isExported(c.getPackageName());
    }

    /**
     * A handle for {@code m}; if its declaring class is not public (ArrayList$Itr),
     * the same method of a public superclass or interface is used instead.
     */
    private static Object[] methodHandle(Class<?> c, Method m) throws NoSuchMethodException {
        MethodHandles.Lookup lookup = MethodHandles.publicLookup();
        if (accessible(m.getDeclaringClass())) {
            try {
                return new Object[] {m, lookup.unreflect(m)};
            } catch (IllegalAccessException e) {
                // Caller-sensitive methods (Class.forName, Method.invoke) refuse the public
                // lookup; the server's own lookup sees the same public method.
                try {
                    return new Object[] {m, MethodHandles.lookup().unreflect(m)};
                } catch (IllegalAccessException e2) {
                    // fall through to the supertypes
                }
            }
        }
        // A public method inherited from a non-public class (AbstractStringBuilder.capacity)
        // is reachable through a public subclass: look it up with that class as the reference.
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            if (!accessible(k)) {
                continue;
            }
            try {
                MethodType type = MethodType.methodType(m.getReturnType(), m.getParameterTypes());
                MethodHandle h = Modifier.isStatic(m.getModifiers())
                        ? lookup.findStatic(k, m.getName(), type)
                        : lookup.findVirtual(k, m.getName(), type);
                return new Object[] {m, h};
            } catch (NoSuchMethodException | IllegalAccessException e) {
                break;
            }
        }
        ArrayDeque<Class<?>> queue = new ArrayDeque<>();
        Set<Class<?>> seen = new HashSet<>();
        queue.add(c);
        while (!queue.isEmpty()) {
            Class<?> k = queue.poll();
            if (!seen.add(k)) {
                continue;
            }
            if (accessible(k)) {
                try {
                    Method alt = k.getMethod(m.getName(), m.getParameterTypes());
                    if (accessible(alt.getDeclaringClass())) {
                        return new Object[] {alt, lookup.unreflect(alt)};
                    }
                } catch (NoSuchMethodException | IllegalAccessException e) {
                    // keep searching
                }
            }
            if (k.getSuperclass() != null) {
                queue.add(k.getSuperclass());
            }
            queue.addAll(Arrays.asList(k.getInterfaces()));
        }
        throw new NoSuchMethodException("method " + m + " is declared in a non-public class and no public "
                + "superclass or interface declares it");
    }

    // ------------------------------------------------------------------ text

    private static final byte KIND_STATIC = 0;
    private static final byte KIND_INSTANCE = 1;
    private static final byte KIND_CONSTRUCTOR = 2;

    /**
     * Cache key: kind, class (identity), name, and each argument's type
     * (identity) and hint flag. The keys in the cache are {@link #copy copies}
     * and never change; a probe (see {@link LastMethod}) is {@link #set} again
     * for every lookup, its arrays reused while the arity fits.
     */
    private static final class Key {
        private static final Class<?>[] NO_TYPES = new Class<?>[0];
        private static final boolean[] NO_FLAGS = new boolean[0];

        private byte kind;
        private Class<?> c;
        private String name;
        /** Arguments: the first {@link #n} entries of {@link #types} and {@link #hinted}. */
        private int n;
        private Class<?>[] types = NO_TYPES;
        private boolean[] hinted = NO_FLAGS;
        private int hash;

        /** Makes this the key of a call with these arguments; returns this. */
        Key set(byte kind, Class<?> c, String name, Arg[] args) {
            this.kind = kind;
            this.c = c;
            this.name = name;
            n = args.length;
            if (types.length < n) {
                types = new Class<?>[n];
                hinted = new boolean[n];
            }
            int h = 31 * (31 * kind + System.identityHashCode(c)) + (name == null ? 0 : name.hashCode());
            for (int i = 0; i < n; i++) {
                Arg a = args[i];
                types[i] = a.type;
                hinted[i] = a.hinted;
                h = 31 * h + (a.type == null ? 0 : System.identityHashCode(a.type)) + (a.hinted ? 1 : 0);
            }
            // Clear what a longer call left, so the probe keeps no class alive for nothing.
            java.util.Arrays.fill(types, n, types.length, null);
            this.hash = h;
            return this;
        }

        /** An unshared key equal to this one, sized to its arity: what the cache stores. */
        Key copy() {
            Key k = new Key();
            k.kind = kind;
            k.c = c;
            k.name = name;
            k.n = n;
            k.types = Arrays.copyOf(types, n);
            k.hinted = Arrays.copyOf(hinted, n);
            k.hash = hash;
            return k;
        }

        /** Whether a key set from these would equal this one (without setting it). */
        boolean matches(byte kind, Class<?> c, String name, Arg[] args) {
            if (kind != this.kind || c != this.c || !Objects.equals(name, this.name) || args.length != n) {
                return false;
            }
            for (int i = 0; i < n; i++) {
                if (args[i].type != types[i] || args[i].hinted != hinted[i]) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            if (this == o) {
                return true;
            }
            if (!(o instanceof Key)) {
                return false;
            }
            Key k = (Key) o;
            if (k.hash != hash || k.kind != kind || k.c != c || !Objects.equals(k.name, name) || k.n != n) {
                return false;
            }
            for (int i = 0; i < n; i++) {
                if (k.types[i] != types[i] || k.hinted[i] != hinted[i]) {
                    return false;
                }
            }
            return true;
        }
    }

    private static String argList(Arg[] args) {
        return Arrays.stream(args).map(Arg::toString).collect(Collectors.joining(", "));
    }

    private static String describe(List<Executable> candidates) {
        if (candidates.isEmpty()) {
            return "none";
        }
        return candidates.stream().map(MethodResolver::render).collect(Collectors.joining("; "));
    }

    private static String render(Executable e) {
        String params = Arrays.stream(e.getParameterTypes()).map(Class::getTypeName).collect(Collectors.joining(", "));
        if (e.isVarArgs()) {
            params = params.substring(0, params.length() - 2) + "...";
        }
        String owner = e.getDeclaringClass().getName();
        return e instanceof Constructor ? owner + "(" + params + ")" : owner + "." + e.getName() + "(" + params + ")";
    }
}
