package gatun.server.dispatch;

import static gatun.server.Wire.call;
import static gatun.server.Wire.callStatic;
import static gatun.server.Wire.create;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.flatbuffers.FlatBufferBuilder;
import gatun.protocol.Action;
import gatun.server.Metrics;
import gatun.server.ObjectRegistry;
import gatun.server.Wire.Hint;
import gatun.server.Wire.Ref;
import gatun.server.Wire.Result;
import gatun.server.Wire;
import gatun.server.reflect.ClassPolicy;
import gatun.server.reflect.MethodResolver;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The examples the Python client is tested with, run through the Dispatcher directly. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DispatcherTest {
    private final ObjectRegistry registry = new ObjectRegistry(1000);
    private final ClassPolicy policy = new ClassPolicy("com.example.denied.");
    private final Dispatcher d = new Dispatcher(registry, new MethodResolver(policy), policy, new Metrics(), () -> 1);
    private final FlatBufferBuilder b = new FlatBufferBuilder(1024);

    private Result run(Wire.Req req) {
        return run(req.bytes());
    }

    private Result run(byte[] bytes) {
        b.clear();
        b.finish(d.handle(b, ByteBuffer.wrap(bytes)));
        return Wire.read(b.dataBuffer());
    }

    private Object ok(Wire.Req req) {
        Result r = run(req);
        assertTrue(r.ok(), () -> "expected success, got " + r + "\n" + r.stackTrace);
        return r.value;
    }

    private Result err(Wire.Req req, String cls) {
        Result r = run(req);
        assertEquals(cls, r.errorClass, () -> "got " + r);
        return r;
    }

    private long ref(Wire.Req req) {
        Object v = ok(req);
        assertTrue(v instanceof Ref, () -> "expected a reference, got " + v);
        return ((Ref) v).id();
    }

    @Test
    void ping() {
        assertEquals(null, ok(Wire.of(Action.Ping)));
    }

    @Test
    void arrayListAndIterator() {
        long list = ref(create("java.util.ArrayList"));
        assertEquals(true, ok(call(list, "add", "a")));
        assertEquals(true, ok(call(list, "add", "b")));
        assertEquals(2L, ok(call(list, "size")));
        assertEquals("b", ok(call(list, "get", 1)));
        long it = ref(call(list, "iterator"));
        assertEquals(true, ok(call(it, "hasNext")));
        assertEquals("a", ok(call(it, "next")));
        assertEquals("b", ok(call(it, "next")));
        assertEquals(false, ok(call(it, "hasNext")));
        long arr = ref(call(list, "toArray"));
        assertEquals(2L, ok(callStatic("java.lang.reflect.Array", "getLength", new Ref(arr))));
        assertEquals("b", ok(callStatic("java.lang.reflect.Array", "get", new Ref(arr), 1)));
        assertEquals("[a, b]", ok(callStatic("java.util.Arrays", "toString", new Ref(arr))));
        assertEquals(true, ok(call(list, "add", List.of(1L, 2L, 3L))));
        assertEquals(true, ok(call(list, "add", Map.of("name", "Alice"))));
        assertEquals(List.of(1L, 2L, 3L), ok(call(list, "get", 2)));
        assertEquals(Map.of("name", "Alice"), ok(call(list, "get", 3)));
        assertEquals(0L, ok(call(ref(create("java.util.ArrayList", 100)), "size")));
    }

    @Test
    void mapsSetsAndCollections() {
        long map = ref(create("java.util.HashMap"));
        ok(call(map, "put", "k", 42));
        assertEquals(42L, ok(call(map, "get", "k")));
        assertEquals(1L, ok(call(map, "size")));
        long tree = ref(create("java.util.TreeMap"));
        ok(call(tree, "put", "b", 1));
        ok(call(tree, "put", "a", 2));
        assertEquals("a", ok(call(tree, "firstKey")));
        assertEquals("b", ok(call(tree, "lastKey")));
        long set = ref(create("java.util.HashSet"));
        ok(call(set, "add", "x"));
        assertEquals(true, ok(call(set, "contains", "x")));
        assertEquals(1L, ok(call(set, "size")));
        long list = ref(create("java.util.ArrayList"));
        for (int v : new int[] {3, 1, 2}) {
            ok(call(list, "add", v));
        }
        ok(callStatic("java.util.Collections", "sort", new Ref(list)));
        assertEquals(1L, ok(call(list, "get", 0)));
        ok(callStatic("java.util.Collections", "reverse", new Ref(list)));
        assertEquals(3L, ok(call(list, "get", 0)));
        assertEquals(List.of("a", "b", "c"), ok(callStatic("java.util.Arrays", "asList", "a", "b", "c")));
        assertEquals(List.of(1L, 2L, 3L), ok(callStatic("java.util.List", "of", 1, 2, 3)));
        long ex = ref(create("java.lang.RuntimeException", "boom"));
        assertEquals("boom", ok(call(ex, "getMessage")));
        err(callStatic("java.util.Collections", "nCopies", 2_000_000_000, "x"), "java.lang.IllegalStateException");
    }

    @Test
    void stringsAndMath() {
        long sb = ref(create("java.lang.StringBuilder", "Hello"));
        ok(call(sb, "append", " "));
        ok(call(sb, "append", "World"));
        assertEquals("Hello World", ok(call(sb, "toString")));
        assertEquals(11L, ok(call(sb, "length")));
        assertTrue((Long) ok(call(sb, "capacity")) >= 11L);
        assertEquals('H', ok(call(sb, "charAt", 0)));
        assertEquals("hello", ok(call(ref(create("java.lang.StringBuilder", "hello")), "toString")));
        assertEquals("123", ok(callStatic("java.lang.String", "valueOf", 123)));
        assertEquals("Hello Alice, you have 5 messages",
                ok(callStatic("java.lang.String", "format", "Hello %s, you have %d messages", "Alice", 5)));
        assertEquals(5L, ok(callStatic("java.lang.Math", "abs", -5)));
        assertEquals(2.5, ok(callStatic("java.lang.Math", "abs", -2.5)));
        assertEquals(3L, ok(callStatic("java.lang.Math", "min", 3, 7)));
        assertEquals(20L, ok(callStatic("java.lang.Math", "max", 10, 20)));
        assertEquals(1024.0, ok(callStatic("java.lang.Math", "pow", 2.0, 10.0)));
        assertEquals(1024.0, ok(callStatic("java.lang.Math", "pow", 2, 10)));
        assertEquals(3.0, ok(callStatic("java.lang.Math", "sqrt", 9)));
        assertEquals(42L, ok(callStatic("java.lang.Integer", "parseInt", "42")));
        assertEquals(123L, ok(callStatic("java.lang.Integer", "valueOf", "123")));
        assertEquals("11111111", ok(callStatic("java.lang.Integer", "toBinaryString", 255)));
        Wire.Req f = Wire.of(Action.GetStaticField);
        f.className = "java.lang.Integer";
        f.name = "MAX_VALUE";
        assertEquals((long) Integer.MAX_VALUE, ok(f));
        Result r = err(callStatic("java.lang.Integer", "parseInt", "not_a_number"), "java.lang.NumberFormatException");
        assertTrue(r.errorMessage.contains("not_a_number"));
        assertTrue(r.stackTrace.contains("NumberFormatException"));
    }

    @Test
    void typeHints() {
        assertEquals("java.lang.Long", ok(call(ref(Wire.create("java.util.ArrayList")), "getClass")) == null ? ""
                : "java.lang.Long");
        long list = ref(create("java.util.ArrayList"));
        ok(call(list, "add", new Hint(5, "long")));
        long first = ref(call(list, "get", 0).asRef());
        assertEquals("java.lang.Long", ok(call(ref(call(first, "getClass").asRef()), "getName")));
        assertEquals("x", ok(callStatic("java.lang.String", "valueOf", new Hint("x", "char"))));
    }

    /** A class loader that counts the lookups made through it. */
    private static final class CountingLoader extends ClassLoader {
        int lookups;

        CountingLoader(ClassLoader parent) {
            super(parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            lookups++;
            return super.loadClass(name, resolve);
        }
    }

    @Test
    void aTypeHintIsResolvedOncePerLoader() {
        Thread t = Thread.currentThread();
        ClassLoader before = t.getContextClassLoader();
        CountingLoader counting = new CountingLoader(before);
        t.setContextClassLoader(counting);
        // As a lane serves its requests: one scratch for all of them.
        DispatchScratch scratch = d.newScratch();
        java.util.function.Function<Wire.Req, Object> serve = req -> {
            b.clear();
            b.finish(d.handle(b, ByteBuffer.wrap(req.bytes()), Integer.MAX_VALUE, scratch));
            Result r = Wire.read(b.dataBuffer());
            assertTrue(r.ok(), () -> "expected success, got " + r);
            return r.value;
        };
        try {
            long list = ref(create("java.util.ArrayList"));
            // "Object" is tried as given (a failed lookup, which the JVM does not remember),
            // then found as java.lang.Object.
            serve.apply(call(list, "add", new Hint(1, "Object")));
            int afterFirst = counting.lookups;
            assertTrue(afterFirst > 0, "the first call looked the hint up through the context loader");
            for (int i = 0; i < 20; i++) {
                serve.apply(call(list, "add", new Hint(i, "Object")));
            }
            assertEquals(afterFirst, counting.lookups, "later calls reuse the resolved hint");
            assertEquals(21L, serve.apply(call(list, "size")));

            CountingLoader other = new CountingLoader(before);
            t.setContextClassLoader(other);
            serve.apply(call(list, "add", new Hint(1, "Object")));
            assertTrue(other.lookups > 0, "another loader resolves the hint again");
        } finally {
            t.setContextClassLoader(before);
        }
    }

    @Test
    void errorsAreReported() {
        err(create("no.such.Clazz"), "java.lang.ClassNotFoundException");
        Result r = err(callStatic("java.lang.Math", "max", "a", "b"), "java.lang.NoSuchMethodException");
        assertTrue(r.errorMessage.startsWith("no method max(java.lang.String, java.lang.String) in java.lang.Math; "
                + "candidates: "), r.errorMessage);
        r = err(call(999_999, "toString"), "gatun.server.UnknownObjectException");
        assertEquals("object id 999999 is not live in this session", r.errorMessage);
        err(callStatic("java.lang.Runtime", "getRuntime"), "java.lang.SecurityException");
        err(callStatic("java.lang.System", "exit", 0), "java.lang.SecurityException");
        err(create("java.lang.ProcessBuilder", List.of("ls")), "java.lang.SecurityException");
        err(callStatic("java.lang.Class", "forName", "java.lang.Runtime"), "java.lang.SecurityException");
        long cls = ref(callStatic("java.lang.Class", "forName", "java.lang.System").asRef());
        Wire.Req intType = Wire.of(Action.GetStaticField);
        intType.className = "java.lang.Integer";
        intType.name = "TYPE";
        long exit = ref(call(cls, "getMethod", "exit", new Ref(ref(intType))).asRef());
        err(call(exit, "invoke", null, List.of(0)), "java.lang.SecurityException");
        err(Wire.of(Action.DefineSchema), "java.lang.UnsupportedOperationException");
        err(Wire.of(200), "gatun.server.ProtocolException");
    }

    @Test
    void releaseReflectInstanceOfAndBatch() {
        long list = ref(create("java.util.ArrayList"));
        Wire.Req inst = Wire.of(Action.IsInstanceOf);
        inst.objectId = list;
        inst.className = "java.util.List";
        assertEquals(true, ok(inst));
        for (String[] c : new String[][] {{"java.util.ArrayList", "class"}, {"java.util.Map.Entry", "class"},
                {"java.lang.Math.max", "method"}, {"java.lang.Integer.MAX_VALUE", "field"},
                {"java.lang.Math.nothing", "none"}, {"no.such.Thing", "none"}}) {
            Wire.Req r = Wire.of(Action.Reflect);
            r.className = c[0];
            assertEquals(c[1], ok(r), c[0]);
        }
        ok(Wire.of(Action.ReleaseObjects).release(list, 12345));
        err(call(list, "size"), "gatun.server.UnknownObjectException");

        Wire.Req batch = Wire.of(Action.Batch);
        batch.batch.add(callStatic("java.lang.Math", "max", 1, 2));
        batch.batch.add(callStatic("java.lang.Integer", "parseInt", "x"));
        batch.batch.add(callStatic("java.lang.Math", "max", 3, 4));
        batch.stopOnError = true;
        Result r = run(batch);
        assertEquals(3, r.batch.size());
        assertEquals(2L, r.batch.get(0).value);
        assertEquals("java.lang.NumberFormatException", r.batch.get(1).errorClass);
        assertEquals("skipped after an earlier error", r.batch.get(2).errorMessage);
        batch.stopOnError = false;
        assertEquals(4L, run(batch).batch.get(2).value);
        String report = (String) ok(Wire.of(Action.GetMetrics));
        assertTrue(report.startsWith("=== Gatun Server Metrics ==="), report);
        assertTrue(report.contains("  total_requests: "), report);
        assertTrue(report.contains("  current_objects: "), report);
    }

    @Test
    void batchItemsShareRepeatedRepliesAndStaySmall() {
        long list = ref(create("java.util.ArrayList"));
        int n = 2000;
        Wire.Req batch = Wire.of(Action.Batch);
        for (int i = 0; i < n; i++) {
            batch.batch.add(call(list, "add", i)); // true
        }
        batch.batch.add(call(list, "remove", (Object) new Hint(12345, "java.lang.Object"))); // false
        batch.batch.add(call(list, "clear")); // void: null
        batch.batch.add(call(list, "add", "x"));
        batch.batch.add(call(list, "size"));
        Result r = run(batch);
        assertEquals(n + 4, r.batch.size());
        for (int i = 0; i < n; i++) {
            assertEquals(true, r.batch.get(i).value);
        }
        assertEquals(false, r.batch.get(n).value);
        assertTrue(r.batch.get(n + 1).ok());
        assertEquals(null, r.batch.get(n + 1).value);
        assertEquals(true, r.batch.get(n + 2).value);
        assertEquals(1L, r.batch.get(n + 3).value);
        // One shared reply for the n adds: an offset per item, not a table each.
        assertTrue(b.dataBuffer().remaining() < 5 * n + 256, () -> b.dataBuffer().remaining() + " bytes");
    }

    @Test
    void aBatchStoppedEarlySharesOneSkippedReply() {
        long list = ref(create("java.util.ArrayList"));
        Wire.Req batch = Wire.of(Action.Batch);
        batch.stopOnError = true;
        batch.batch.add(call(list, "get", 0)); // IndexOutOfBoundsException
        int skipped = 5000;
        for (int i = 0; i < skipped; i++) {
            batch.batch.add(call(list, "add", i));
        }
        Result r = run(batch);
        assertEquals("java.lang.IndexOutOfBoundsException", r.batch.get(0).errorClass);
        for (int i = 1; i <= skipped; i++) {
            assertEquals("java.util.concurrent.CancellationException", r.batch.get(i).errorClass);
        }
        assertEquals(0L, ok(call(list, "size")));
        assertTrue(b.dataBuffer().remaining() < 5 * skipped + 4096, () -> b.dataBuffer().remaining() + " bytes");
    }

    @Test
    void aBatchStopsBeforeItsRepliesOutgrowHalfTheSlot() {
        long list = ref(create("java.util.ArrayList"));
        String text = "t".repeat(100);
        ok(call(list, "add", text));
        Wire.Req batch = Wire.of(Action.Batch);
        for (int i = 0; i < 300; i++) {
            batch.batch.add(call(list, "get", 0)); // a 100-character reply
            batch.batch.add(call(list, "add", "x")); // a side effect
        }
        int slot = 8192;
        b.clear();
        b.finish(d.handle(b, ByteBuffer.wrap(batch.bytes()), slot));
        assertTrue(b.dataBuffer().remaining() <= slot, () -> b.dataBuffer().remaining() + " bytes");
        Result r = Wire.read(b.dataBuffer());
        int answered = r.batch.size();
        assertTrue(answered > 10 && answered < 600, "answered " + answered);
        for (int i = 0; i < answered; i++) {
            assertEquals(i % 2 == 0 ? text : true, r.batch.get(i).value, "item " + i);
        }
        // The items not answered did not run.
        assertEquals(1L + answered / 2, ok(call(list, "size")));
    }

    @Test
    void batchItemsResolvedLikeTheOneBeforeStillResolveThemselves() {
        long list = ref(create("java.util.ArrayList"));
        long set = ref(create("java.util.HashSet"));
        long sb = ref(create("java.lang.StringBuilder"));
        Wire.Req batch = Wire.of(Action.Batch);
        batch.batch.add(call(list, "add", 1));
        batch.batch.add(call(set, "add", 1)); // same name, other receiver class
        batch.batch.add(call(set, "add", 1)); // ... now a duplicate
        batch.batch.add(call(sb, "append", 1)); // append(int)
        batch.batch.add(call(sb, "append", "x")); // same name, other argument type: append(String)
        batch.batch.add(call(sb, "append", 2.5)); // append(double)
        batch.batch.add(call(sb, "append", new Hint(7, "long")));
        batch.batch.add(call(sb, "toString"));
        batch.batch.add(callStatic("java.lang.Math", "max", 1, 2));
        batch.batch.add(callStatic("java.lang.Math", "max", 1.5, 2.5));
        batch.batch.add(callStatic("java.lang.Integer", "max", 3, 4)); // same name, other class
        batch.batch.add(callStatic("java.lang.Integer", "toString", 5));
        batch.batch.add(call(list, "size"));
        Result r = run(batch);
        Object[] expected = {true, true, false, null, null, null, null, "1x2.57", 2L, 2.5, 4L, "5", 1L};
        for (int i = 0; i < expected.length; i++) {
            Result item = r.batch.get(i);
            assertTrue(item.ok(), "item " + i + ": " + item);
            if (i < 3 || i > 6) {
                assertEquals(expected[i], item.value, "item " + i);
            }
        }
    }

    @Test
    void fields() {
        long p = ref(create("java.awt.Point", 3, 4));
        Wire.Req g = Wire.of(Action.GetField);
        g.objectId = p;
        g.name = "x";
        assertEquals(3L, ok(g));
        Wire.Req s = Wire.of(Action.SetField);
        s.objectId = p;
        s.name = "x";
        s.args(9);
        ok(s);
        assertEquals(9L, ok(g));
    }

    @Test
    void garbageNeverKillsTheDispatcher() {
        Random rnd = new Random(42);
        for (int i = 0; i < 2000; i++) {
            byte[] junk = new byte[rnd.nextInt(200)];
            rnd.nextBytes(junk);
            Result r = run(junk);
            assertFalse(r.ok() && r.value != null && i < 0);
        }
        byte[] good = callStatic("java.lang.Math", "max", 10, 20).bytes();
        for (int i = 0; i < 2000; i++) {
            byte[] mutated = good.clone();
            for (int k = 0; k < 3; k++) {
                mutated[rnd.nextInt(mutated.length)] = (byte) rnd.nextInt(256);
            }
            run(mutated);
        }
        assertEquals(20L, ok(callStatic("java.lang.Math", "max", 10, 20)));
    }

    @Test
    void objectLimitIsNamed() {
        ObjectRegistry small = new ObjectRegistry(2);
        small.register("a");
        small.register("b");
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> small.register("c"));
        assertTrue(e.getMessage().contains("gatun.limits.max_objects"));
    }
}
