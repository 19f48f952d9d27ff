package gatun.spark;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Moves a Java object between two gateways into the same JVM — PySpark's py4j
 * gateway and gatun's — by a one-shot key: one side {@link #put}s the object
 * and passes the key (a string) to the other, which {@link #take}s it.
 *
 * <p>JVM-wide; a key is taken once. An object put and never taken stays
 * referenced here, so take what you put.
 */
public final class Handoff {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Map<String, Object> WAITING = new ConcurrentHashMap<>();

    private Handoff() {
    }

    /**
     * Keeps {@code o} under a new key until it is taken.
     *
     * @param o the object (not null)
     * @return the key, 32 hex digits
     * @throws IllegalArgumentException if {@code o} is null
     */
    public static String put(Object o) {
        if (o == null) {
            throw new IllegalArgumentException("Handoff.put: nothing to hand off (null)");
        }
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        String key = HexFormat.of().formatHex(b);
        WAITING.put(key, o);
        return key;
    }

    /**
     * Takes the object put under {@code key}; the key is then unknown.
     *
     * @param key a key {@link #put} returned
     * @return the object
     * @throws IllegalArgumentException if nothing waits under {@code key}
     *     (never put, or already taken)
     */
    public static Object take(String key) {
        Object o = key == null ? null : WAITING.remove(key);
        if (o == null) {
            throw new IllegalArgumentException("Handoff.take: no object waits under key '" + key
                    + "' (a key is taken once; put the object again)");
        }
        return o;
    }

    /**
     * Counts the objects put and not yet taken: each stays referenced here
     * until taken, so a count that grows means a side puts without the other
     * taking.
     *
     * @return objects put and not yet taken
     */
    public static int waiting() {
        return WAITING.size();
    }
}
