package gatun.server.reflect;

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
 * <p>Denied by default: {@code java.lang.Runtime}, {@code java.lang.Process},
 * {@code java.lang.ProcessBuilder}, {@code java.lang.ProcessHandle} (and their
 * nested classes and subclasses), {@code java.lang.invoke} (a method handle
 * would bypass the checks), and {@code System.exit/load/loadLibrary}.
 * Reflection is followed: {@code Method.invoke}, {@code Constructor.newInstance},
 * {@code Class.forName}, {@code ClassLoader.loadClass} and any call on a
 * {@code Class} object are checked against their target. Extra entries come
 * from {@code -Dgatun.policy.deny=com.example.,org.foo.Bar}. This is defence in
 * depth, not a sandbox.
 */
public final class ClassPolicy {
    /** System property with extra comma-separated denied prefixes. */
    public static final String DENY_PROPERTY = "gatun.policy.deny";

    private static final List<String> DEFAULT_DENY = List.of(
            "java.lang.Runtime", "java.lang.Process", "java.lang.ProcessBuilder",
            "java.lang.ProcessHandle", "java.lang.ProcessImpl", "java.lang.invoke.");
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
        if (isDeniedName(n)) {
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
}
