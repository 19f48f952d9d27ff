package gatun.server.limits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import gatun.protocol.BatchKind;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link Limits}: upstream's names and defaults, lowering only, clear refusals. */
class LimitsTest {

    @Test
    void defaultsAreUpstreamsWhereGatunRsPromisedNoMore() {
        Map<String, Long> m = Limits.DEFAULTS.asMap();
        assertEquals(1_000_000L, m.get("max_objects"));
        assertEquals((long) Integer.MAX_VALUE, m.get("max_string_length"));
        assertEquals((long) Integer.MAX_VALUE, m.get("max_list_entries"));
        assertEquals(100L, m.get("max_nesting_depth"));
        assertEquals((long) Integer.MAX_VALUE, m.get("max_batch_size"));
        assertEquals((long) Integer.MAX_VALUE, m.get("max_method_calls"));
        assertEquals((long) Integer.MAX_VALUE, m.get("max_create_objects"));
        assertEquals(0L, m.get("session_idle_timeout_ms"));
        assertEquals(Long.MAX_VALUE, m.get("max_arrow_bytes"));
    }

    @Test
    void lowersButNeverRaises() {
        Limits l = Limits.DEFAULTS.lower(Map.of("max_objects", 10, "session_idle_timeout_ms", 500L));
        assertEquals(10, l.maxObjects());
        assertEquals(500, l.sessionIdleTimeoutMs());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> l.lower(Map.of("max_objects", 11)));
        assertTrue(e.getMessage().contains("may only lower"), e.getMessage());
        // 0 turns the idle timeout off: a raise once one is set.
        assertThrows(IllegalArgumentException.class, () -> l.lower(Map.of("session_idle_timeout_ms", 0)));
        assertThrows(IllegalArgumentException.class, () -> l.lower(Map.of("session_idle_timeout_ms", 501)));
        assertEquals(400, l.lower(Map.of("session_idle_timeout_ms", 400)).sessionIdleTimeoutMs());
    }

    @Test
    void unknownNamesAndBadValuesAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Limits.DEFAULTS.lower(Map.of("max_things", 1)));
        assertTrue(e.getMessage().contains("max_things") && e.getMessage().contains("max_objects"));
        assertThrows(IllegalArgumentException.class, () -> Limits.DEFAULTS.lower(Map.of("max_objects", 0)));
        assertThrows(IllegalArgumentException.class, () -> Limits.DEFAULTS.lower(Map.of("max_objects", "5")));
    }

    @Test
    void quotaMessagesStartAsUpstreams() {
        SessionQuota q = new SessionQuota(Limits.DEFAULTS.lower(Map.of("max_objects", 2, "max_arrow_bytes", 100)));
        LimitExceededException e = assertThrows(LimitExceededException.class, () -> q.checkObjects(2));
        assertTrue(e.getMessage().startsWith("Object limit exceeded: session has 2 objects (max: 2)"),
                e.getMessage());
        assertTrue(e.getMessage().contains("-Dgatun.limits.max_objects"), e.getMessage());
        q.takeArrow(60);
        e = assertThrows(LimitExceededException.class, () -> q.takeArrow(60));
        assertTrue(e.getMessage().startsWith("Arrow buffer limit exceeded"), e.getMessage());
        assertEquals(60, q.arrowBytesHeld()); // the refused batch took nothing
        q.giveBackArrow(60);
        q.takeArrow(100);
    }

    @Test
    void aCapTheSessionSetItselfSaysSo() {
        SessionQuota q = new SessionQuota(Limits.DEFAULTS);
        q.lower(Map.of("max_objects", 50));
        LimitExceededException e = assertThrows(LimitExceededException.class, () -> q.checkObjects(50));
        assertTrue(e.getMessage().contains("this session's limits= set max_objects to 50"), e.getMessage());
        assertFalse(e.getMessage().contains("-Dgatun.limits"), e.getMessage());
        // A limit the session left alone still names the property.
        e = assertThrows(LimitExceededException.class, () -> q.checkDepth(101));
        assertTrue(e.getMessage().contains("-Dgatun.limits.max_nesting_depth"), e.getMessage());
    }

    @Test
    void batchesCountTheirKindsLimit() {
        SessionQuota q = new SessionQuota(Limits.DEFAULTS.lower(Map.of("max_method_calls", 5, "max_batch_size", 8)));
        q.checkBatch(8, BatchKind.Items); // calls in batch() are items only
        LimitExceededException e = assertThrows(LimitExceededException.class,
                () -> q.checkBatch(6, BatchKind.MethodCalls));
        assertTrue(e.getMessage().startsWith("Batch too large: 6 method calls (max: 5)"), e.getMessage());
        e = assertThrows(LimitExceededException.class, () -> q.checkBatch(9, BatchKind.Items));
        assertTrue(e.getMessage().startsWith("Batch too large: 9 items (max: 8)"), e.getMessage());
    }
}
