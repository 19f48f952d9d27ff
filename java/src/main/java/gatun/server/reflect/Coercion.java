package gatun.server.reflect;

import java.util.List;

/**
 * Conversions of argument values to parameter types, shared by overload
 * resolution and invocation: numeric conversions between wire scalars
 * (int to long/short/byte/float/double when the value fits, double to float),
 * one-character strings to char, Lists to arrays, boxing and unboxing.
 *
 * <p>Example: {@code Coercion.coerce(5, long.class)} is {@code 5L};
 * {@code Coercion.coerce(1 << 20, short.class)} is {@link #NO_MATCH}.
 */
public final class Coercion {
    private Coercion() {
    }

    /**
     * @param v any value
     * @return the type resolution uses for an unhinted value
     */
    public static Class<?> naturalType(Object v) {
        if (v == null) {
            return null;
        }
        Class<?> c = v.getClass();
        Class<?> p = unbox(c);
        return p != null ? p : c;
    }

    /**
     * @param c a class
     * @return the primitive for a wrapper class, else null
     */
    public static Class<?> unbox(Class<?> c) {
        if (c == Integer.class) return int.class;
        if (c == Long.class) return long.class;
        if (c == Double.class) return double.class;
        if (c == Boolean.class) return boolean.class;
        if (c == Character.class) return char.class;
        if (c == Float.class) return float.class;
        if (c == Short.class) return short.class;
        if (c == Byte.class) return byte.class;
        return null;
    }

    /**
     * @param p a primitive class
     * @return its wrapper
     */
    public static Class<?> box(Class<?> p) {
        if (p == int.class) return Integer.class;
        if (p == long.class) return Long.class;
        if (p == double.class) return Double.class;
        if (p == boolean.class) return Boolean.class;
        if (p == char.class) return Character.class;
        if (p == float.class) return Float.class;
        if (p == short.class) return Short.class;
        if (p == byte.class) return Byte.class;
        if (p == void.class) return Void.class;
        return p;
    }

    /** Marker returned by {@link #coerce} when a value cannot become the type. */
    public static final Object NO_MATCH = new Object();

    /**
     * Converts a value to a parameter type: numeric conversions between wire
     * scalars, one-character strings to char, Lists to arrays; other values pass
     * through if assignable.
     *
     * @param v the value
     * @param p the target type
     * @return the converted value or {@link #NO_MATCH}
     */
    public static Object coerce(Object v, Class<?> p) {
        if (v == null) {
            return p.isPrimitive() ? NO_MATCH : null;
        }
        Class<?> prim = p.isPrimitive() ? p : unbox(p);
        if (prim != null) {
            if (v.getClass() == box(prim)) {
                return v; // already the value a conversion would box again: no second box per call
            }
            if (v instanceof Number && !(v instanceof Character)) {
                Number n = (Number) v;
                boolean integral = v instanceof Integer || v instanceof Long || v instanceof Short
                        || v instanceof Byte;
                if (prim == int.class) return integral && fits(n.longValue(), Integer.MIN_VALUE, Integer.MAX_VALUE)
                        ? (Object) n.intValue() : NO_MATCH;
                if (prim == long.class) return integral ? (Object) n.longValue() : NO_MATCH;
                if (prim == short.class) return integral && fits(n.longValue(), Short.MIN_VALUE, Short.MAX_VALUE)
                        ? (Object) n.shortValue() : NO_MATCH;
                if (prim == byte.class) return integral && fits(n.longValue(), Byte.MIN_VALUE, Byte.MAX_VALUE)
                        ? (Object) n.byteValue() : NO_MATCH;
                if (prim == double.class) return n.doubleValue();
                if (prim == float.class) return n.floatValue();
                if (prim == char.class) return integral && fits(n.longValue(), 0, 0xFFFF)
                        ? (Object) (char) n.intValue() : NO_MATCH;
                return NO_MATCH;
            }
            if (v instanceof Character) {
                char ch = (Character) v;
                if (prim == char.class) return ch;
                if (prim == int.class) return (int) ch;
                if (prim == long.class) return (long) ch;
                if (prim == float.class) return (float) ch;
                if (prim == double.class) return (double) ch;
                return NO_MATCH;
            }
            if (v instanceof Boolean) {
                return prim == boolean.class ? v : NO_MATCH;
            }
            if (v instanceof String && prim == char.class && ((String) v).length() == 1) {
                return ((String) v).charAt(0);
            }
            return NO_MATCH;
        }
        if (p.isInstance(v)) {
            return v;
        }
        Object view = arrowView(v, p, true);
        if (view != null) {
            return view;
        }
        if (p.isArray() && v instanceof List) {
            List<?> list = (List<?>) v;
            Class<?> comp = p.getComponentType();
            Object arr = java.lang.reflect.Array.newInstance(comp, list.size());
            for (int i = 0; i < list.size(); i++) {
                Object e = coerce(list.get(i), comp);
                if (e == NO_MATCH) {
                    return NO_MATCH;
                }
                java.lang.reflect.Array.set(arr, i, e);
            }
            return arr;
        }
        return NO_MATCH;
    }

    /**
     * A {@code VectorSchemaRoot} (a table Python sent) where a method takes an
     * {@code ArrowReader} becomes a one-batch {@link gatun.server.arrow.BridgeArrowReader}
     * over it (closed after the call); where it takes a {@code FieldVector},
     * a one-column root becomes its vector. Null when {@code v} is
     * not such a root.
     *
     * @param v an argument
     * @param p the parameter type
     * @param make false: only say whether a view applies (returns {@code v} or null)
     * @return the view, or null if none applies
     */
    static Object arrowView(Object v, Class<?> p, boolean make) {
        if (!(v instanceof org.apache.arrow.vector.VectorSchemaRoot) || p == Object.class) {
            return null;
        }
        org.apache.arrow.vector.VectorSchemaRoot root = (org.apache.arrow.vector.VectorSchemaRoot) v;
        if (org.apache.arrow.vector.ipc.ArrowReader.class.isAssignableFrom(p)
                && p.isAssignableFrom(gatun.server.arrow.BridgeArrowReader.class)) {
            return make ? gatun.server.arrow.BridgeArrowReader.over(root) : v;
        }
        if (org.apache.arrow.vector.FieldVector.class.isAssignableFrom(p) && root.getFieldVectors().size() == 1
                && p.isInstance(root.getVector(0))) {
            return root.getVector(0);
        }
        return null;
    }

    private static boolean fits(long v, long min, long max) {
        return v >= min && v <= max;
    }
}
