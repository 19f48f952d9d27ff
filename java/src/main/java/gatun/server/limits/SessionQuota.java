package gatun.server.limits;

import gatun.protocol.BatchKind;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One session's limits (the server's, possibly lowered by the session) and
 * the usage they are checked against: Arrow bytes held, objects at their
 * peak, the time of the last request. Every check throws a
 * {@link LimitExceededException} whose message starts as upstream Gatun's.
 */
public final class SessionQuota {
    private volatile Limits limits;
    /** The server's limits, before the session lowered any (for the error messages). */
    private final Limits serverLimits;
    private final AtomicLong arrowBytesHeld = new AtomicLong();
    private final AtomicLong peakObjects = new AtomicLong();
    /** Requests running now; a session with one running is never idle. */
    private final AtomicInteger running = new AtomicInteger();
    private volatile long lastActivityNanos = System.nanoTime();
    private volatile boolean expired;
    /** What the idle reaper runs when the session idles out (release its objects); null: nothing. */
    private volatile Runnable onExpire;
    private volatile boolean closed;

    /**
     * @param limits the server's limits
     */
    public SessionQuota(Limits limits) {
        this.limits = limits;
        this.serverLimits = limits;
    }

    /**
     * The error for limit {@code name}; it says where the cap came from: the
     * session's own {@code limits=} (raising the JVM property cannot help) or the server.
     */
    private LimitExceededException exceeded(String what, String name) {
        long mine = limits.asMap().get(name);
        long server = serverLimits.asMap().get(name);
        return new LimitExceededException(what, name, mine < server ? mine : -1, server);
    }

    /** @return the limits in force */
    public Limits limits() {
        return limits;
    }

    /**
     * Lowers some limits for this session ({@link Limits#lower}).
     *
     * @param overrides limit name to value
     * @return the limits now in force
     */
    public synchronized Limits lower(Map<?, ?> overrides) {
        limits = limits.lower(overrides);
        lastActivityNanos = System.nanoTime(); // an idle timeout set now counts from now
        watchIfIdleable();
        return limits;
    }

    /**
     * Sets what to do when the idle reaper finds the session idle for longer
     * than its timeout (the session itself ends at its next request, which
     * gets the idle error, or when Python disconnects).
     *
     * @param action run once, on the reaper's thread
     */
    public void onExpire(Runnable action) {
        onExpire = action;
        watchIfIdleable();
    }

    /** The session ended: no more idle checks. */
    public void close() {
        closed = true;
        IdleReaper.unwatch(this);
    }

    boolean closed() {
        return closed;
    }

    /** Runs the expiry action (reaper thread). */
    void runExpiry() {
        Runnable r = onExpire;
        if (r != null) {
            r.run();
        }
    }

    private void watchIfIdleable() {
        if (!closed && limits.sessionIdleTimeoutMs() > 0) {
            IdleReaper.watch(this);
        }
    }

    // ----------------------------------------------------------- objects

    /**
     * Before registering one more object.
     *
     * @param live objects the session holds now
     */
    public void checkObjects(long live) {
        long max = limits.maxObjects();
        if (live >= max) {
            throw exceeded("Object limit exceeded: session has " + live + " objects (max: " + max
                    + "); release proxies no longer needed", "max_objects");
        }
    }

    /**
     * After registering an object.
     *
     * @param live objects the session holds now
     */
    public void objectsNow(long live) {
        long peak = peakObjects.get();
        while (live > peak && !peakObjects.compareAndSet(peak, live)) {
            peak = peakObjects.get();
        }
    }

    /** @return the most objects the session held at once */
    public long peakObjects() {
        return peakObjects.get();
    }

    // --------------------------------------------------------- arguments

    /**
     * @param chars characters of a string argument (an upper bound is enough to pass)
     */
    public void checkString(long chars) {
        long max = limits.maxStringLength();
        if (chars > max) {
            throw exceeded("String too long: " + chars + " characters (max: " + max + ")",
                    "max_string_length");
        }
    }

    /** @return whether a string of {@code bytes} UTF-8 bytes is surely within the limit */
    public boolean stringFits(long bytes) {
        return bytes <= limits.maxStringLength();
    }

    /**
     * @param entries entries of a list, map or array argument
     */
    public void checkCollection(long entries) {
        long max = limits.maxListEntries();
        if (entries > max) {
            throw exceeded("Collection too large: " + entries + " entries (max: " + max + ")",
                    "max_list_entries");
        }
    }

    /**
     * @param depth nesting of a value inside an argument (the argument itself is 0)
     */
    public void checkDepth(int depth) {
        long max = limits.maxNestingDepth();
        if (depth > max) {
            throw exceeded("Nesting too deep: an argument nests containers more than " + max
                    + " levels (max: " + max + ")", "max_nesting_depth");
        }
    }

    /**
     * @param items items of the user's whole batch
     * @param kind its {@link gatun.protocol.BatchKind}: {@code invoke_methods}
     *     are method calls, {@code create_objects} constructions
     */
    public void checkBatch(long items, int kind) {
        Limits l = limits;
        if (kind == BatchKind.MethodCalls && items > l.maxMethodCalls()) {
            throw exceeded("Batch too large: " + items + " method calls (max: " + l.maxMethodCalls() + ")",
                    "max_method_calls");
        }
        if (kind == BatchKind.CreateObjects && items > l.maxCreateObjects()) {
            throw exceeded("Batch too large: " + items + " objects to create (max: " + l.maxCreateObjects() + ")",
                    "max_create_objects");
        }
        if (items > l.maxBatchSize()) {
            throw exceeded("Batch too large: " + items + " items (max: " + l.maxBatchSize() + ")", "max_batch_size");
        }
    }

    // -------------------------------------------------------------- arrow

    /**
     * Takes {@code bytes} more of Python's Arrow memory for this session.
     *
     * @param bytes bytes of the regions a batch arrives in
     */
    public void takeArrow(long bytes) {
        long max = limits.maxArrowBytes();
        long now = arrowBytesHeld.addAndGet(bytes);
        if (now > max) {
            arrowBytesHeld.addAndGet(-bytes);
            throw exceeded("Arrow buffer limit exceeded: the session holds " + (now - bytes)
                    + " bytes of Arrow data from Python and this batch needs " + bytes + " more (max: " + max
                    + "); let earlier Arrow data go", "max_arrow_bytes");
        }
    }

    /**
     * Gives back Arrow memory the JVM no longer holds.
     *
     * @param bytes as taken
     */
    public void giveBackArrow(long bytes) {
        arrowBytesHeld.addAndGet(-bytes);
    }

    /** @return bytes of Python's Arrow memory the JVM holds for this session */
    public long arrowBytesHeld() {
        return arrowBytesHeld.get();
    }

    // --------------------------------------------------------------- idle

    /**
     * A request starts. With an idle timeout set, fails (and marks the
     * session expired) if the session was idle for longer.
     *
     * @return whether the request is counted as running: pass it to {@link #end}
     * @throws SessionIdleException if the session idled out
     */
    public boolean begin() {
        long timeout = limits.sessionIdleTimeoutMs();
        if (timeout <= 0) {
            return false;
        }
        long now = System.nanoTime();
        if (expired) {
            throw new SessionIdleException(timeout);
        }
        if (running.getAndIncrement() == 0 && now - lastActivityNanos > timeout * 1_000_000L) {
            running.decrementAndGet();
            expired = true;
            throw new SessionIdleException(timeout);
        }
        lastActivityNanos = now;
        return true;
    }

    /**
     * A request ends.
     *
     * @param counted what {@link #begin} returned
     */
    public void end(boolean counted) {
        if (counted) {
            lastActivityNanos = System.nanoTime();
            running.decrementAndGet();
        }
    }

    /**
     * For the idle reaper: marks the session expired if it has been idle
     * longer than its timeout.
     *
     * @param now {@link System#nanoTime()}
     * @return true if the session just expired
     */
    public boolean expireIfIdle(long now) {
        long timeout = limits.sessionIdleTimeoutMs();
        if (timeout <= 0 || expired || running.get() != 0 || now - lastActivityNanos <= timeout * 1_000_000L) {
            return false;
        }
        expired = true;
        return true;
    }

    /** @return whether the session idled out (it answers every request with the idle error, then ends) */
    public boolean expired() {
        return expired;
    }

    /** The idle timeout of {@link Limits#sessionIdleTimeoutMs()} passed: the server closed the session. */
    public static final class SessionIdleException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        SessionIdleException(long timeoutMs) {
            super("Session closed: it was idle for more than its idle timeout of " + timeoutMs + " ms (limit "
                    + "session_idle_timeout_ms, -D" + Limits.PREFIX + "session_idle_timeout_ms; 0 = never); its "
                    + "objects were released; connect again");
        }
    }
}
