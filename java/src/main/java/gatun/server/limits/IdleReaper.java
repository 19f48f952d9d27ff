package gatun.server.limits;

import gatun.server.ServerLog;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Finds sessions idle for longer than their idle timeout and expires them
 * (their objects are released at once, without waiting for a next request).
 * One daemon thread for the JVM, started by the first session with a
 * timeout, ticking every {@link #TICK_MS} ms while any session is watched.
 */
final class IdleReaper {
    /** How often idle sessions are looked for: the reaper's lateness at most. */
    static final long TICK_MS = 100;

    private static final Set<SessionQuota> WATCHED = ConcurrentHashMap.newKeySet();
    private static ScheduledExecutorService timer;

    private IdleReaper() {
    }

    static synchronized void watch(SessionQuota q) {
        WATCHED.add(q);
        if (timer == null) {
            ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
                Thread th = new Thread(r, "gatun-idle-reaper");
                th.setDaemon(true);
                return th;
            });
            t.scheduleWithFixedDelay(IdleReaper::tick, TICK_MS, TICK_MS, TimeUnit.MILLISECONDS);
            timer = t;
        }
    }

    static void unwatch(SessionQuota q) {
        WATCHED.remove(q);
    }

    private static void tick() {
        long now = System.nanoTime();
        for (SessionQuota q : WATCHED) {
            try {
                if (q.closed()) {
                    WATCHED.remove(q);
                } else if (q.expireIfIdle(now)) {
                    WATCHED.remove(q);
                    q.runExpiry();
                }
            } catch (RuntimeException | Error e) {
                // One session's failure must not stop the reaper for the others.
                ServerLog.LOG.warning("expiring an idle session failed: " + e);
            }
        }
    }
}
