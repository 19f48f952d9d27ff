package gatun.server.reflect;

import gatun.server.shm.Layout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the classes and fields Python names, under the {@link ClassPolicy}: a
 * class through the thread's context loader (nested classes spelled with dots
 * too), remembered per name and loader since the policy is immutable; the
 * answer to {@code Reflect} (class, method, field or none).
 */
public final class ClassLoading {
    /** Most class names remembered by {@link #loadClass}. */
    private static final int MAX_CACHED_CLASSES = 4096;

    /** Receiver class that last passed {@link ClassPolicy#checkClass} (the policy is immutable). */
    private volatile Class<?> checkedReceiverClass;
    /** Classes that {@link #tryLoad} found (policy checks passed), by name, with the loader used. */
    private final ConcurrentHashMap<String, Loaded> classCache =
            new ConcurrentHashMap<>();

    /** A class {@link #tryLoad} returned for a name through a loader. */
    private static final class Loaded {
        final ClassLoader loader;
        final Class<?> c;

        Loaded(ClassLoader loader, Class<?> c) {
            this.loader = loader;
            this.c = c;
        }
    }

    private final ClassPolicy policy;

    /** @param policy the class policy every class and field found must pass */
    public ClassLoading(ClassPolicy policy) {
        this.policy = policy;
    }

    public Field findField(Class<?> c, String name, boolean wantStatic) throws NoSuchFieldException {
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

    public static ClassLoader loader() {
        ClassLoader l = Thread.currentThread().getContextClassLoader();
        return l != null ? l : ClassLoading.class.getClassLoader();
    }

    /**
     * Loads a class for Python, trying nested-class spellings ({@code a.b.Outer.Inner}
     * as {@code a.b.Outer$Inner}) when the dotted name does not load.
     */
    public Class<?> loadClass(String name) throws ClassNotFoundException {
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

    /**
     * The Scala companion object of {@code c}: the {@code MODULE$} of class
     * {@code c.getName() + "$"} (policy checked), or null if there is none.
     *
     * @param c a class Python named
     * @return the companion object, or null
     */
    public Object companion(Class<?> c) {
        Class<?> module = tryLoad(c.getName() + "$");
        if (module == null) {
            return null;
        }
        try {
            Field f = module.getField("MODULE$");
            return java.lang.reflect.Modifier.isStatic(f.getModifiers()) && f.getType() == module ? f.get(null) : null;
        } catch (NoSuchFieldException | IllegalAccessException e) {
            return null;
        }
    }

        /** {@link ClassPolicy#checkClass} for a receiver, remembering the last class that passed. */
    public void checkReceiverClass(Class<?> c) {
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

    public String reflect(String name) {
        if (tryLoad(name) != null || tryLoad(name + "$") != null) {
            return Layout.REFLECT_CLASS;
        }
        int dot = name.lastIndexOf('.');
        if (dot <= 0) {
            return Layout.REFLECT_NONE;
        }
        Class<?> owner = tryLoad(name.substring(0, dot));
        if (owner == null) {
            return Layout.REFLECT_NONE;
        }
        String member = name.substring(dot + 1);
        for (java.lang.reflect.Method m : owner.getMethods()) {
            if (m.getName().equals(member)) {
                return Layout.REFLECT_METHOD;
            }
        }
        for (Field f : owner.getFields()) {
            if (f.getName().equals(member)) {
                return Layout.REFLECT_FIELD;
            }
        }
        return Layout.REFLECT_NONE;
    }
}
