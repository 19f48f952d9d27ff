package gatun.server.reflect;

import gatun.server.ValueCodec.Arg;
import java.util.List;

/**
 * How well an argument fits a parameter type, for overload resolution: the same
 * type costs 0, primitive widening 1-5 (the distance in
 * byte &lt; short/char &lt; int &lt; long &lt; float &lt; double), boxing or
 * unboxing 4 more, a superclass 6-9, an interface 7, a List passed as an array
 * 8 plus its worst element, {@code Object} 10, and the Python-friendly
 * narrowings (int to short/byte when the value fits, double to float, a
 * one-character String to char) 20; null
 * fits any reference type at cost 1. -1 means it does not fit.
 *
 * <p>Example: a wire int against {@code double} costs 3, so
 * {@code Math.pow(2, 10)} resolves to {@code pow(double,double)}.
 */
public final class ArgumentCost {
    /** Cost of a narrowing the JLS forbids but Python callers expect. */
    public static final int NARROWING = 20;
    /** Cost of boxing or unboxing. */
    public static final int BOXING = 4;

    private ArgumentCost() {
    }

    /**
     * The cost of passing an argument as a parameter type.
     *
     * @param a the argument
     * @param p the parameter type
     * @return the cost, or -1 if it does not fit
     */
    public static int cost(Arg a, Class<?> p) {
        Class<?> t = a.type;
        if (t == null) {
            return p.isPrimitive() ? -1 : 1;
        }
        if (t.isPrimitive()) {
            if (p.isPrimitive()) {
                if (p == t) {
                    return 0;
                }
                int w = widen(t, p);
                if (w > 0) {
                    return w;
                }
                return !a.hinted && narrowingFits(a.value, t, p) ? NARROWING : -1;
            }
            Class<?> pu = Coercion.unbox(p);
            if (pu != null) {
                if (pu == t) {
                    return BOXING;
                }
                int w = widen(t, pu);
                if (w > 0) {
                    return BOXING + w;
                }
                return !a.hinted && narrowingFits(a.value, t, pu) ? BOXING + NARROWING : -1;
            }
            return refCost(Coercion.box(t), p);
        }
        if (p == char.class && !a.hinted && a.value instanceof String && ((String) a.value).length() == 1) {
            return NARROWING; // Python has no char: a one-character str is one, as in Py4J
        }
        if (p.isPrimitive()) {
            Class<?> tu = Coercion.unbox(t);
            if (tu == null) {
                return -1;
            }
            if (tu == p) {
                return BOXING;
            }
            int w = widen(tu, p);
            return w > 0 ? BOXING + w : -1;
        }
        int r = refCost(t, p);
        if (r >= 0) {
            return r;
        }
        if (p.isArray() && a.value instanceof List) {
            return listAsArrayCost((List<?>) a.value, p.getComponentType());
        }
        return Coercion.arrowView(a.value, p, false) != null ? ARROW_VIEW : -1;
    }

    /** A root passed as an ArrowReader or as its only FieldVector: after any exact fit. */
    private static final int ARROW_VIEW = 20;

    /** 8 plus the worst element's cost, so [1, 2] prefers int[] to long[] to Object[]. */
    private static int listAsArrayCost(List<?> list, Class<?> comp) {
        int worst = 0;
        for (Object e : list) {
            int c = cost(Arg.of(e), comp);
            if (c < 0) {
                return -1;
            }
            worst = Math.max(worst, c);
        }
        return 8 + worst;
    }

    private static int refCost(Class<?> t, Class<?> p) {
        if (p == t) {
            return 0;
        }
        if (!p.isAssignableFrom(t)) {
            return -1;
        }
        if (p == Object.class) {
            return 10;
        }
        if (p.isInterface()) {
            return 7;
        }
        int d = 0;
        for (Class<?> k = t; k != null && k != p; k = k.getSuperclass()) {
            d++;
        }
        return 5 + Math.min(Math.max(d, 1), 4);
    }

    private static int rank(Class<?> c) {
        if (c == byte.class) return 0;
        if (c == short.class || c == char.class) return 1;
        if (c == int.class) return 2;
        if (c == long.class) return 3;
        if (c == float.class) return 4;
        if (c == double.class) return 5;
        return -1;
    }

    /** Java primitive widening cost (rank difference), or -1 if not a widening. */
    private static int widen(Class<?> from, Class<?> to) {
        int a = rank(from);
        int b = rank(to);
        if (a < 0 || b < 0 || b <= a) {
            return -1;
        }
        if (to == char.class || (from == char.class && to == short.class)) {
            return -1;
        }
        return b - a;
    }

    private static boolean narrowingFits(Object v, Class<?> t, Class<?> p) {
        boolean ok = ((p == short.class || p == byte.class) && (t == int.class || t == long.class))
                || (p == float.class && t == double.class);
        return ok && Coercion.coerce(v, p) != Coercion.NO_MATCH;
    }

    /**
     * Java's subtyping for "most specific" tie-breaks, with primitive widening.
     *
     * @param a a parameter type
     * @param b another parameter type
     * @return true if {@code a} is at least as specific as {@code b}
     */
    public static boolean subtype(Class<?> a, Class<?> b) {
        if (a == b) {
            return true;
        }
        if (a.isPrimitive() || b.isPrimitive()) {
            return a.isPrimitive() && b.isPrimitive() && widen(a, b) > 0;
        }
        return b.isAssignableFrom(a);
    }
}
