package gatun.server.reflect;

import java.lang.reflect.AccessibleObject;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The class access policy: a deny list checked on every path that loads a
 * class, touches a member or invokes code for Python, reflection included.
 *
 * <p>What it is: defence in depth against <i>mistakes</i> of a peer that runs
 * as the same user (a notebook cell that would stop the JVM, start a process,
 * or write to a raw address). What it is not: a sandbox. Python code can load
 * its own jars, and that user can run any program anyway.
 *
 * <p>Denied by default, with their nested classes and subclasses:
 * <ul>
 * <li>processes and JVM exit: {@code java.lang.Runtime}, {@code Process},
 *     {@code ProcessBuilder}, {@code ProcessHandle}, {@code Shutdown},
 *     {@code System.exit/load/loadLibrary};</li>
 * <li>code that runs other code out of the policy's sight: {@code java.lang.invoke}
 *     (a method handle would bypass the checks), {@code java.beans.XMLDecoder},
 *     {@code Statement}, {@code Expression}, {@code EventHandler} and
 *     {@code Beans} (reflective calls and deserialisation the bridge never sees),
 *     {@code com.sun.beans}, {@code jdk.jshell}, {@code javax.script},
 *     {@code javax.tools} and {@code com.sun.tools} (compilers, attach),
 *     MBean servers and dynamic MBeans of {@code javax.management} (their
 *     operations can load agents; the platform MXBeans stay usable),
 *     {@code javax.naming} and {@code java.rmi} (remote class loading);</li>
 * <li>raw memory: {@code sun.misc.Unsafe}, {@code jdk.internal.misc.Unsafe},
 *     {@code java.lang.foreign}, Arrow's {@code MemoryUtil}, Netty's
 *     {@code io.netty.util.internal}, Spark's {@code org.apache.spark.unsafe.Platform};
 *     and no class of {@code sun.*} or {@code jdk.internal.*} may be named (loaded
 *     by name), though instances JDK methods return stay usable;</li>
 * <li>{@code setAccessible}/{@code trySetAccessible} on a member of a JDK class
 *     (a class in a named {@code java.*} or {@code jdk.*} module): it is how
 *     {@code Shutdown.halt0} or {@code ClassLoader.defineClass} would be reached.
 *     The bridge opens no JDK package but {@code java.nio} (Arrow's).</li>
 * </ul>
 * Reflection is followed: {@code Method.invoke}, {@code Constructor.newInstance},
 * {@code Class.forName}, {@code ClassLoader.loadClass} and any call on a
 * {@code Class} object are checked against their target. Extra entries come
 * from {@code -Dgatun.policy.deny=com.example.,org.foo.Bar}.
 */
public final class ClassPolicy {
    /** System property with extra comma-separated denied prefixes. */
    public static final String DENY_PROPERTY = "gatun.policy.deny";

    private static final List<String> DEFAULT_DENY = List.of(
            // processes and JVM exit
            "java.lang.Runtime", "java.lang.Process", "java.lang.ProcessBuilder",
            "java.lang.ProcessHandle", "java.lang.ProcessImpl", "java.lang.Shutdown",
            // code that runs other code where the policy cannot see it
            "java.lang.invoke.", "java.beans.XMLDecoder", "java.beans.Statement",
            "java.beans.Expression", "java.beans.EventHandler", "java.beans.Beans",
            "com.sun.beans.", "jdk.jshell.", "javax.script.", "javax.tools.", "com.sun.tools.",
            "javax.management.MBeanServer", "javax.management.MBeanServerConnection",
            "javax.management.MBeanServerFactory", "javax.management.DynamicMBean",
            "javax.management.loading.", "javax.management.remote.", "com.sun.jmx.",
            "javax.naming.", "java.rmi.",
            // raw memory
            "sun.misc.Unsafe", "jdk.internal.misc.Unsafe", "jdk.internal.access.", "jdk.internal.reflect.",
            "sun.reflect.", "java.lang.foreign.", "org.apache.arrow.memory.util.MemoryUtil",
            "io.netty.util.internal.", "org.apache.spark.unsafe.Platform");
    /**
     * Packages that may not be <i>named</i> (loaded by name, reached as
     * {@code jvm.sun...}); their instances that JDK methods return (a
     * {@code sun.nio.fs.UnixPath} from {@code Path.of}) stay usable.
     */
    private static final List<String> DENY_BY_NAME = List.of("sun.", "jdk.internal.");
    private static final Set<String> DENIED_SYSTEM_MEMBERS = Set.of("exit", "load", "loadLibrary");

    private final List<String> deny;

    /** Creates the default policy plus the entries of {@code -Dgatun.policy.deny}. */
    public ClassPolicy() {
        this(System.getProperty(DENY_PROPERTY, ""));
    }

    /**
     * @param extra comma-separated denied class names or package prefixes
     */
    public ClassPolicy(String extra) {
        List<String> d = new ArrayList<>(DEFAULT_DENY);
        for (String s : extra.split(",")) {
            String t = s.trim();
            if (!t.isEmpty()) {
                d.add(t);
            }
        }
        this.deny = List.copyOf(d);
    }

    /**
     * @param name a binary class name
     * @return true if the name is denied (exactly, as a nested class, or by a package prefix)
     */
    public boolean isDeniedName(String name) {
        for (String p : deny) {
            if (name.equals(p)) {
                return true;
            }
            if (name.startsWith(p)) {
                char last = p.charAt(p.length() - 1);
                char next = name.charAt(p.length());
                if (last == '.' || last == '$' || next == '$' || next == '.') {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Checks a class name before it is loaded.
     *
     * @param name binary class name
     * @throws SecurityException if denied
     */
    public void checkClassName(String name) {
        String n = name;
        while (n.startsWith("[")) {
            n = n.substring(1);
        }
        if (n.startsWith("L") && n.endsWith(";")) {
            n = n.substring(1, n.length() - 1);
        }
        boolean byName = false;
        for (String p : DENY_BY_NAME) {
            byName |= n.startsWith(p);
        }
        if (byName || isDeniedName(n)) {
            throw new SecurityException("class " + name + " is denied by the gatun class policy");
        }
    }

    /**
     * Checks a class, its superclasses and its interfaces.
     *
     * @param c the class to check; null is allowed
     * @throws SecurityException if any of them is denied
     */
    public void checkClass(Class<?> c) {
        if (c == null) {
            return;
        }
        while (c.isArray()) {
            c = c.getComponentType();
        }
        if (isDeniedName(c.getName())) {
            throw new SecurityException("class " + c.getName() + " is denied by the gatun class policy");
        }
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            if (inheritedDenial(k.getName())) {
                throw new SecurityException("class " + c.getName()
                        + (k == c ? "" : " (a " + k.getName() + ")") + " is denied by the gatun class policy");
            }
            for (Class<?> i : k.getInterfaces()) {
                checkSupertypes(c, i);
            }
        }
    }

    private void checkSupertypes(Class<?> c, Class<?> i) {
        if (inheritedDenial(i.getName())) {
            throw new SecurityException("class " + c.getName() + " (a " + i.getName()
                    + ") is denied by the gatun class policy");
        }
        for (Class<?> j : i.getInterfaces()) {
            checkSupertypes(c, j);
        }
    }

    /**
     * Denials that also apply to subclasses and implementations. The
     * {@code java.lang.invoke} package is denied only by name, since ordinary
     * classes such as {@code Class} implement its descriptor interfaces.
     */
    private boolean inheritedDenial(String name) {
        return !name.startsWith("java.lang.invoke.") && isDeniedName(name);
    }

    /**
     * Checks a member of a class (a method, constructor or field).
     *
     * @param m the member
     * @throws SecurityException if its class or the member itself is denied
     */
    public void checkMember(Member m) {
        checkClass(m.getDeclaringClass());
        if (m.getDeclaringClass() == System.class && DENIED_SYSTEM_MEMBERS.contains(m.getName())) {
            throw new SecurityException("java.lang.System." + m.getName()
                    + " is denied by the gatun class policy");
        }
    }

    /**
     * Whether {@code target} makes members accessible
     * ({@code AccessibleObject.setAccessible/trySetAccessible}, and the
     * overrides in {@code Method}, {@code Field}, {@code Constructor}).
     *
     * @param target a method or constructor
     * @return true for those methods
     */
    public static boolean opensMembers(Executable target) {
        return target instanceof Method
                && AccessibleObject.class.isAssignableFrom(target.getDeclaringClass())
                && (target.getName().equals("setAccessible") || target.getName().equals("trySetAccessible"));
    }

    /** Whether {@code c} belongs to the JDK: a named {@code java.*} or {@code jdk.*} module. */
    private static boolean inJdkModule(Class<?> c) {
        Module module = c.getModule();
        String name = module.isNamed() ? module.getName() : "";
        return name.startsWith("java.") || name.startsWith("jdk.");
    }

    /** Refuses opening a member of a JDK class (one in a named java.* or jdk.* module). */
    private static void checkOpening(Object member) {
        if (!(member instanceof Member)) {
            return;
        }
        Class<?> owner = ((Member) member).getDeclaringClass();
        if (inJdkModule(owner)) {
            throw new SecurityException("making " + owner.getName() + "." + ((Member) member).getName()
                    + " accessible is denied by the gatun class policy (members of JDK classes stay"
                    + " as their module exports them)");
        }
    }

    /**
     * Checks an invocation, following reflection to its real target.
     *
     * @param target the method or constructor about to run
     * @param receiver the receiver (null for static calls and constructors)
     * @param args the converted arguments
     * @throws SecurityException if the call or what it reaches is denied
     */
    public void checkInvocation(Executable target, Object receiver, Object[] args) {
        checkMember(target);
        if (receiver != null) {
            checkClass(receiver.getClass());
        }
        if (receiver instanceof Member) {
            checkMember((Member) receiver);
        }
        if (receiver instanceof Class<?>) {
            checkClass((Class<?>) receiver);
        }
        Class<?> dc = target.getDeclaringClass();
        if (target instanceof Method && (dc == Class.class || ClassLoader.class.isAssignableFrom(dc))
                && (target.getName().equals("forName") || target.getName().equals("loadClass"))) {
            for (Object a : args) {
                if (a instanceof String) {
                    checkClassName((String) a);
                }
            }
        }
        if (opensMembers(target)) {
            checkOpening(receiver);
            for (Object a : args) {
                if (a instanceof Object[]) {
                    for (Object element : (Object[]) a) {
                        checkOpening(element);
                    }
                }
            }
        }
        if (target instanceof Constructor<?> || target instanceof Method) {
            for (Object a : args) {
                if (a instanceof Member) {
                    checkMember((Member) a);
                } else if (a instanceof Class<?>) {
                    checkClass((Class<?>) a);
                }
            }
        }
    }

    /**
     * @param f a field about to be read or written
     * @throws SecurityException if denied
     */
    public void checkField(Field f) {
        checkMember(f);
    }

    /**
     * Checks a write to a field: a non-public field of a JDK class may be read
     * (the launcher opens {@code java.lang} for that) but never written, since
     * that would break the JDK's own invariants.
     *
     * @param f the field about to be set
     * @throws SecurityException if it is a non-public field of a JDK class
     */
    public void checkFieldWrite(Field f) {
        Class<?> owner = f.getDeclaringClass();
        boolean open = java.lang.reflect.Modifier.isPublic(f.getModifiers())
                && java.lang.reflect.Modifier.isPublic(owner.getModifiers());
        if (!open && inJdkModule(owner)) {
            throw new SecurityException("setting " + owner.getName() + "." + f.getName()
                    + " is denied by the gatun class policy (non-public fields of JDK classes can be read,"
                    + " not written)");
        }
    }
}
