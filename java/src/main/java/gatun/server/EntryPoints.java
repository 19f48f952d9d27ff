package gatun.server;

import gatun.server.reflect.ClassLoading;
import gatun.server.reflect.ClassPolicy;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Modifier;

/**
 * Makes the entry point a launched server offers Python (Py4J's
 * {@code GatewayServer(entryPoint)}): the object of a class named on the
 * command line ({@code -Dgatun.entryPoint=CLASS}, which
 * {@code gatun.connect(entry_point=...)} passes). A Scala {@code object} is
 * its {@code MODULE$} (named {@code X} or {@code X$}); any other class is made
 * with its public no-arg constructor. The class passes the same class policy as a class Python names.
 */
final class EntryPoints {
    /** System property naming the entry point class of a launched server. */
    static final String PROPERTY = "gatun.entryPoint";

    private EntryPoints() {
    }

    /**
     * @param className a binary class name ({@code com.example.App}, {@code com.example.App$})
     * @param policy the server's class policy
     * @return the entry point object
     * @throws IllegalArgumentException naming the class and what is wrong with it
     */
    static Object create(String className, ClassPolicy policy) {
        String name = className.strip();
        if (name.isEmpty()) {
            throw new IllegalArgumentException("the entry point class name is empty");
        }
        Class<?> c = load(name, policy);
        if (c == null) {
            // A Scala object named by its source name: com.example.App -> com.example.App$.
            c = load(name + "$", policy);
        }
        if (c == null) {
            throw new IllegalArgumentException("entry point class " + name + " was not found on the class path");
        }
        Object module = scalaModule(c);
        if (module == null && !name.endsWith("$")) {
            // A Scala object with a class of static forwarders beside it (scala.Predef).
            Class<?> companion = load(name + "$", policy);
            module = companion != null ? scalaModule(companion) : null;
        }
        if (module != null) {
            return module;
        }
        if (c.isInterface() || Modifier.isAbstract(c.getModifiers()) || !Modifier.isPublic(c.getModifiers())) {
            throw new IllegalArgumentException("entry point class " + c.getName()
                    + " must be a public concrete class (or a Scala object)");
        }
        try {
            Constructor<?> k = c.getConstructor();
            policy.checkMember(k);
            return k.newInstance();
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException("entry point class " + c.getName()
                    + " has no public no-argument constructor", e);
        } catch (InvocationTargetException e) {
            throw new IllegalArgumentException("the constructor of entry point class " + c.getName()
                    + " threw " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("entry point class " + c.getName() + " cannot be made: " + e, e);
        }
    }

    private static Class<?> load(String name, ClassPolicy policy) {
        policy.checkClassName(name);
        try {
            Class<?> c = Class.forName(name, true, ClassLoading.loader());
            policy.checkClass(c);
            return c;
        } catch (ClassNotFoundException e) {
            return null;
        }
    }

    /** The instance of a Scala {@code object} (its public static final {@code MODULE$}), else null. */
    private static Object scalaModule(Class<?> c) {
        try {
            Field f = c.getField("MODULE$");
            int m = f.getModifiers();
            if (Modifier.isStatic(m) && f.getType() == c) {
                return f.get(null);
            }
        } catch (NoSuchFieldException | IllegalAccessException e) {
            // not a Scala object
        }
        return null;
    }
}
