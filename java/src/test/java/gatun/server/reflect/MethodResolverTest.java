package gatun.server.reflect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import gatun.server.ValueCodec.Arg;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Overload resolution and value conversion. */
class MethodResolverTest {
    private final ClassPolicy policy = new ClassPolicy("");
    private final MethodResolver resolver = new MethodResolver(policy);

    /** @return each value as an argument without a type hint */
    static Arg[] args(Object... values) {
        Arg[] out = new Arg[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Arg.of(values[i]);
        }
        return out;
    }

    private Object call(Class<?> c, String name, Arg... a) throws Throwable {
        return resolver.invoke(resolver.resolveMethod(c, name, a, true), null, a);
    }

    @Test
    void powOfIntsPicksDoubles() throws Throwable {
        MethodResolver.Resolved r = resolver.resolveMethod(Math.class, "pow", args(2, 10), true);
        assertEquals("public static double java.lang.Math.pow(double,double)", r.target.toString());
        assertEquals(1024.0, call(Math.class, "pow", args(2, 10)));
    }

    @Test
    void exactPrimitiveBeatsWidening() throws Throwable {
        assertEquals("public static int java.lang.Math.max(int,int)",
                resolver.resolveMethod(Math.class, "max", args(1, 2), true).target.toString());
        assertEquals("public static long java.lang.Math.max(long,long)",
                resolver.resolveMethod(Math.class, "max", args(1, 1L << 40), true).target.toString());
        assertEquals("long", call(OverloadFixture.class, "g", args(5)));
        assertEquals("Object", call(OverloadFixture.class, "g", args("x")));
        assertEquals("short7", call(OverloadFixture.class, "s", args(7)));
    }

    @Test
    void typeHintWins() throws Throwable {
        Arg hinted = new Arg(5L, Long.class, true);
        assertEquals("Long", call(OverloadFixture.class, "g", hinted));
        Arg obj = new Arg(5, Object.class, true);
        assertEquals("Object", call(OverloadFixture.class, "g", obj));
    }

    @Test
    void varargs() throws Throwable {
        assertEquals("Hello Alice, you have 5 messages",
                call(String.class, "format", args("Hello %s, you have %d messages", "Alice", 5)));
        assertEquals(List.of("a", "b", "c"), call(java.util.Arrays.class, "asList", args("a", "b", "c")));
        assertEquals(List.of(), call(java.util.Arrays.class, "asList", args()));
    }

    @Test
    void listBecomesArrayParameter() throws Throwable {
        List<Object> l = new ArrayList<>(List.of(3, 1, 2));
        assertEquals("[3, 1, 2]", call(java.util.Arrays.class, "toString", args(l)));
    }

    @Test
    void ambiguityListsCandidates() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> resolver.resolveMethod(OverloadFixture.class, "f", args(null, null), true));
        assertTrue(e.getMessage().contains("f(java.lang.Integer, java.lang.String)"), e.getMessage());
        assertTrue(e.getMessage().contains("f(java.lang.String, java.lang.Integer)"), e.getMessage());
    }

    @Test
    void noMatchNamesCandidates() {
        NoSuchMethodException e = assertThrows(NoSuchMethodException.class,
                () -> resolver.resolveMethod(Math.class, "sqrt", args("x"), true));
        assertTrue(e.getMessage().startsWith("no method sqrt(java.lang.String) in java.lang.Math; candidates: "
                + "java.lang.Math.sqrt(double)"), e.getMessage());
    }

    @Test
    void nonPublicDeclaringClassUsesInterface() throws Throwable {
        List<String> list = new ArrayList<>(List.of("x"));
        Object it = list.iterator();
        MethodResolver.Resolved r = resolver.resolveMethod(it.getClass(), "next", args(), false);
        assertEquals(java.util.Iterator.class, r.target.getDeclaringClass());
        assertEquals("x", resolver.invoke(r, it, args()));
    }

    @Test
    void coercion() {
        assertEquals(5L, Coercion.coerce(5, long.class));
        assertEquals((short) 5, Coercion.coerce(5, Short.class));
        assertEquals(Coercion.NO_MATCH, Coercion.coerce(1 << 20, short.class));
        assertEquals(2.5f, Coercion.coerce(2.5, float.class));
        assertEquals('c', Coercion.coerce("c", char.class));
        assertEquals(Coercion.NO_MATCH, Coercion.coerce(null, int.class));
    }
}
