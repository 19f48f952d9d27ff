package gatun.server.limits;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A session's resource limits, named as upstream Gatun's
 * {@code -Dgatun.limits.*} system properties and with its defaults. A limit
 * of 0 or less means "no limit" only for {@code session_idle_timeout_ms}
 * (0 = never idle out); every other limit must be positive.
 *
 * @param maxObjects live objects one session may hold
 * @param maxStringLength characters in one string argument
 * @param maxListEntries entries of one list, map or array argument
 * @param maxNestingDepth nesting of container arguments
 * @param maxBatchSize items of one batch
 * @param maxMethodCalls method calls in one batch ({@code invoke_methods})
 * @param maxCreateObjects constructions in one batch ({@code create_objects})
 * @param sessionIdleTimeoutMs idle time after which the server closes a session (0 = never)
 * @param maxArrowBytes Arrow buffer bytes one session may send the JVM
 */
public record Limits(long maxObjects, long maxStringLength, long maxListEntries, long maxNestingDepth,
                     long maxBatchSize, long maxMethodCalls, long maxCreateObjects, long sessionIdleTimeoutMs,
                     long maxArrowBytes) {

    /** Prefix of the system properties: {@code -Dgatun.limits.max_objects=...}. */
    public static final String PREFIX = "gatun.limits.";

    /** The limit names, in the order of the record's components (the keys of {@link #asMap()}). */
    public static final String[] NAMES = {
        "max_objects", "max_string_length", "max_list_entries", "max_nesting_depth", "max_batch_size",
        "max_method_calls", "max_create_objects", "session_idle_timeout_ms", "max_arrow_bytes",
    };

    /**
     * The defaults: upstream Gatun's, except where gatun-rs already promised
     * more. Objects: 1,000,000 live per session (upstream 100,000; gatun-rs
     * shipped 1,000,000). String length and list entries: Java's own limit,
     * {@code Integer.MAX_VALUE} (upstream 10 MiB characters and 100,000
     * entries), because values larger than a lane slot are a feature here (a
     * 100 MB {@code str}, a 10M-element list; README "A large value"), and
     * likewise batches, calls and constructions per batch (upstream 10,000
     * each: a batch larger than a lane slot is sent in parts here) and the
     * Arrow data held (upstream 1 GiB: the arenas bound it, and tables of
     * several GiB are what bulk jobs send). Nesting 100 and no idle timeout,
     * as upstream.
     */
    public static final Limits DEFAULTS = new Limits(1_000_000, Integer.MAX_VALUE, Integer.MAX_VALUE, 100,
            Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE, 0, Long.MAX_VALUE);

    /** Checks every limit is positive (the idle timeout may be 0). */
    public Limits {
        long[] v = {maxObjects, maxStringLength, maxListEntries, maxNestingDepth, maxBatchSize, maxMethodCalls,
            maxCreateObjects, sessionIdleTimeoutMs, maxArrowBytes};
        for (int i = 0; i < v.length; i++) {
            boolean idle = i == 7;
            if (v[i] < 0 || (v[i] == 0 && !idle)) {
                throw new IllegalArgumentException("limit " + NAMES[i] + " must be " + (idle ? "0 or more" : "positive")
                        + ", got " + v[i]);
            }
        }
    }

    /**
     * The limits of the {@code gatun.limits.*} system properties, defaults for those unset.
     *
     * @return the server's limits
     * @throws IllegalArgumentException naming the property whose value is not a valid number
     */
    public static Limits fromSystemProperties() {
        Map<String, Long> values = DEFAULTS.asMap();
        for (String name : NAMES) {
            String text = System.getProperty(PREFIX + name);
            if (text == null) {
                continue;
            }
            try {
                values.put(name, Long.parseLong(text.trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("-D" + PREFIX + name + "=" + text + " is not a whole number");
            }
        }
        return of(values);
    }

    /** @return the limits by name, in {@link #NAMES} order */
    public Map<String, Long> asMap() {
        long[] v = values();
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < NAMES.length; i++) {
            m.put(NAMES[i], v[i]);
        }
        return m;
    }

    private long[] values() {
        return new long[] {maxObjects, maxStringLength, maxListEntries, maxNestingDepth, maxBatchSize, maxMethodCalls,
            maxCreateObjects, sessionIdleTimeoutMs, maxArrowBytes};
    }

    private static Limits of(Map<String, Long> m) {
        return new Limits(m.get(NAMES[0]), m.get(NAMES[1]), m.get(NAMES[2]), m.get(NAMES[3]), m.get(NAMES[4]),
                m.get(NAMES[5]), m.get(NAMES[6]), m.get(NAMES[7]), m.get(NAMES[8]));
    }

    /**
     * These limits with some lowered, as a session asks (a peer never raises
     * what the host set: a value above the current one is refused, and so is
     * an idle timeout longer than a set one).
     *
     * @param overrides limit name to new value (whole numbers)
     * @return the lowered limits
     * @throws IllegalArgumentException for an unknown name, a value that is not a whole number, or a raise
     */
    public Limits lower(Map<?, ?> overrides) {
        Map<String, Long> values = asMap();
        for (Map.Entry<?, ?> e : overrides.entrySet()) {
            String name = String.valueOf(e.getKey());
            Long current = values.get(name);
            if (current == null) {
                throw new IllegalArgumentException("unknown limit '" + name + "'; the limits are "
                        + String.join(", ", NAMES));
            }
            if (!(e.getValue() instanceof Integer || e.getValue() instanceof Long)) {
                throw new IllegalArgumentException("limit " + name + " must be a whole number, got " + e.getValue());
            }
            long v = ((Number) e.getValue()).longValue();
            boolean idle = name.equals(NAMES[7]);
            boolean raises = idle ? current > 0 && (v == 0 || v > current) : v > current;
            if (raises) {
                throw new IllegalArgumentException("limit " + name + "=" + v + " would raise the server's "
                        + (idle && current > 0 ? current + " ms" : String.valueOf(current))
                        + ": a session may only lower its limits (the host sets them with -D" + PREFIX + name + ")");
            }
            values.put(name, v);
        }
        return of(values);
    }

    /**
     * How to raise a limit, for error messages.
     *
     * @param name a name of {@link #NAMES}
     * @return e.g. {@code "limit max_objects: raise it with -Dgatun.limits.max_objects=N"}
     */
    public static String howToRaise(String name) {
        return "limit " + name + ": raise it with -D" + PREFIX + name + "=N";
    }
}
