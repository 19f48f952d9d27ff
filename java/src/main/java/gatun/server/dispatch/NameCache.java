package gatun.server.dispatch;

import gatun.protocol.Request;
import gatun.server.ProtocolException;
import java.nio.ByteBuffer;

/**
 * The method and class names of recent requests, looked up by their UTF-8
 * bytes in the request buffer: a name seen before costs a comparison of its
 * bytes, not a new String (decoding one makes three objects).
 *
 * <p>Direct-mapped: a name's hash picks one of {@link #SIZE} entries, and a
 * name that lands on an occupied entry replaces it. The text depends only on
 * the bytes, so an entry serves method and class names alike, and a hit
 * returns exactly what decoding would. Not thread-safe: one per
 * {@link DispatchScratch}.
 */
final class NameCache {
    /** Entries (a power of two): more distinct names than one thread's hot calls use. */
    static final int SIZE = 64;
    /** Longer names are decoded every time rather than kept. */
    static final int MAX_CACHED_BYTES = 512;

    private final byte[][] bytes = new byte[SIZE][];
    private final String[] texts = new String[SIZE];
    /** The entry of the last hit, tried before hashing: a batch repeats one name. */
    private int lastSlot;

    /**
     * The request's method name.
     *
     * @throws ProtocolException if it is missing, empty or unreadable
     */
    String name(Request r) {
        return text(r, true);
    }

    /**
     * The request's class name.
     *
     * @throws ProtocolException if it is missing, empty or unreadable
     */
    String className(Request r) {
        return text(r, false);
    }

    private String text(Request r, boolean methodName) {
        ByteBuffer bb = r.getByteBuffer();
        int start;
        int end;
        int position = bb.position();
        int limit = bb.limit();
        try {
            // Locates the field in place: a view of the buffer would be an object per request.
            ByteBuffer field = methodName ? r.nameInByteBuffer(bb) : r.classNameInByteBuffer(bb);
            start = field == null ? 0 : field.position();
            end = field == null ? 0 : field.limit();
        } catch (RuntimeException | StackOverflowError e) {
            throw RequestReader.malformed(e);
        } finally {
            bb.limit(limit).position(position);
        }
        if (end > limit) {
            throw new ProtocolException("malformed request: a " + what(methodName) + " of " + (end - start)
                    + " bytes runs past the end of the request");
        }
        int n = end - start;
        if (n == 0 || n > MAX_CACHED_BYTES) {
            return decode(r, methodName); // an empty (or absent) name fails there with its own message
        }
        if (same(bytes[lastSlot], bb, start, end)) {
            return texts[lastSlot];
        }
        int slot = hash(bb, start, end) & (SIZE - 1);
        if (same(bytes[slot], bb, start, end)) {
            lastSlot = slot;
            return texts[slot];
        }
        String text = decode(r, methodName);
        byte[] copy = new byte[n];
        for (int i = 0; i < n; i++) {
            copy[i] = bb.get(start + i);
        }
        bytes[slot] = copy;
        texts[slot] = text;
        lastSlot = slot;
        return text;
    }

    private static String decode(Request r, boolean methodName) {
        String v;
        try {
            v = methodName ? r.name() : r.className();
        } catch (RuntimeException | StackOverflowError e) {
            throw RequestReader.malformed(e);
        }
        if (v == null || v.isEmpty()) {
            throw new ProtocolException("request has no " + what(methodName));
        }
        return v;
    }

    private static String what(boolean methodName) {
        return methodName ? "name" : "class_name";
    }

    private static int hash(ByteBuffer bb, int start, int end) {
        int h = 1;
        for (int i = start; i < end; i++) {
            h = 31 * h + bb.get(i);
        }
        return h ^ (h >>> 16);
    }

    /** Whether bytes [start, end) of {@code bb} are {@code cached}. */
    private static boolean same(byte[] cached, ByteBuffer bb, int start, int end) {
        if (cached == null || cached.length != end - start) {
            return false;
        }
        for (int i = 0; i < cached.length; i++) {
            if (cached[i] != bb.get(start + i)) {
                return false;
            }
        }
        return true;
    }
}
