package gatun.server.reflect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import gatun.server.ValueCodec.Arg;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedList;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/** The resolution cache and the remembered policy checks must not change any outcome. */
class ResolverCacheTest {
    private final ClassPolicy policy = new ClassPolicy("java.util.LinkedList");
    private final MethodResolver resolver = new MethodResolver(policy);

    private static Arg[] args(Object... values) {
        return MethodResolverTest.args(values);
    }

    @Test
    void cacheKeySeesNameTypesAndHints() throws Throwable {
        MethodResolver.Resolved a = resolver.resolveMethod(Math.class, "abs", args(-3), true);
        assertSame(a, resolver.resolveMethod(Math.class, "abs", args(-4), true));
        // a fresh String with the same text hits the same entry
        assertSame(a, resolver.resolveMethod(Math.class, new String("abs"), args(-4), true));
        assertEquals("public static int java.lang.Math.abs(int)", a.target.toString());
        MethodResolver.Resolved l = resolver.resolveMethod(Math.class, "abs", args(-3L << 40), true);
        assertEquals("public static long java.lang.Math.abs(long)", l.target.toString());
        Arg[] hinted = {new Arg(-3L, long.class, true)};
        MethodResolver.Resolved h = resolver.resolveMethod(Math.class, "abs", hinted, true);
        assertEquals("public static long java.lang.Math.abs(long)", h.target.toString());
        assertNotSame(h, l);
        assertEquals(3L, resolver.invoke(h, null, hinted));
        assertEquals("public static int java.lang.Math.max(int,int)",
                resolver.resolveMethod(Math.class, "max", args(1, 2), true).target.toString());
        // static-only and instance lookups are cached apart
        assertThrows(NoSuchMethodException.class,
                () -> resolver.resolveMethod(ArrayList.class, "size", args(), true));
        assertEquals(0, resolver.invoke(resolver.resolveMethod(ArrayList.class, "size", args(), false),
                new ArrayList<>(), args()));
    }

    @Test
    void lastMethodAnswersOnlyForTheSameCall() throws Throwable {
        MethodResolver.LastMethod last = new MethodResolver.LastMethod();
        MethodResolver.Resolved i = resolver.resolveMethod(Math.class, "abs", args(-3), true, last);
        assertSame(i, resolver.resolveMethod(Math.class, "abs", args(-4), true, last));
        assertSame(i, resolver.resolveMethod(Math.class, "abs", args(-5), true, last));
        assertEquals("public static long java.lang.Math.abs(long)",
                resolver.resolveMethod(Math.class, "abs", args(-3L << 40), true, last).target.toString());
        Arg[] hinted = {new Arg(-3, long.class, true)};
        assertEquals("public static long java.lang.Math.abs(long)",
                resolver.resolveMethod(Math.class, "abs", hinted, true, last).target.toString());
        assertEquals("public static int java.lang.StrictMath.abs(int)",
                resolver.resolveMethod(StrictMath.class, "abs", args(-3), true, last).target.toString());
        assertEquals("public static int java.lang.Math.max(int,int)",
                resolver.resolveMethod(Math.class, "max", args(1, 2), true, last).target.toString());
        resolver.resolveMethod(ArrayList.class, "size", args(), false, last);
        resolver.resolveMethod(ArrayList.class, "size", args(), false, last);
        assertThrows(NoSuchMethodException.class,
                () -> resolver.resolveMethod(ArrayList.class, "size", args(), true, last));
        // Narrowing depends on the value (never cached, never remembered): 300 does not fit a byte.
        MethodResolver.LastMethod seen = new MethodResolver.LastMethod();
        for (int k = 0; k < 2; k++) {
            assertEquals("public static java.lang.Byte java.lang.Byte.valueOf(byte)",
                    resolver.resolveMethod(Byte.class, "valueOf", args(3), true, seen).target.toString());
        }
        assertThrows(NoSuchMethodException.class,
                () -> resolver.resolveMethod(Byte.class, "valueOf", args(300), true, seen));
    }

    @Test
    void policyStillSeesEveryReceiverClass() throws Throwable {
        MethodResolver.Resolved r = resolver.resolveMethod(Collection.class, "size", args(), false);
        List<Integer> ok = new ArrayList<>(List.of(1, 2));
        assertEquals(2, resolver.invoke(r, ok, args()));
        assertEquals(2, resolver.invoke(r, ok, args()));
        assertThrows(SecurityException.class, () -> resolver.invoke(r, new LinkedList<>(), args()));
        assertEquals(2, resolver.invoke(r, ok, args()));
    }

    @Test
    void policyStillSeesClassArguments() throws Throwable {
        MethodResolver.Resolved r = resolver.resolveMethod(Objects.class, "toString", args("x"), true);
        assertEquals("x", resolver.invoke(r, null, args("x")));
        assertEquals("x", resolver.invoke(r, null, args("x")));
        assertThrows(SecurityException.class, () -> resolver.invoke(r, null, args(LinkedList.class)));
        assertThrows(SecurityException.class, () -> resolver.invoke(r, null, args(Runtime.class)));
    }

    @Test
    void policyStillSeesMemberArguments() throws Throwable {
        MethodResolver.Resolved r = resolver.resolveMethod(Objects.class, "toString", args(7), true);
        assertEquals("7", resolver.invoke(r, null, args(7)));
        assertEquals("7", resolver.invoke(r, null, args(7)));
        java.lang.reflect.Method denied = LinkedList.class.getMethod("size");
        assertThrows(SecurityException.class, () -> resolver.invoke(r, null, args(denied)));
        assertEquals("7", resolver.invoke(r, null, args(7)));
    }
}
