package gatun.spark;

import java.util.HashSet;
import java.util.Set;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;

/**
 * Ties parked data to its SparkContext: a listener registered once per
 * context releases everything parked for it when the application ends
 * ({@code spark.stop()}).
 */
final class SparkContexts {
    private static final Set<String> WATCHED = new HashSet<>();

    private SparkContexts() {
    }

    /**
     * @param sc a SparkContext
     * @return a key naming it among all contexts this JVM has run
     */
    static String key(SparkContext sc) {
        return sc.applicationId() + "@" + sc.startTime();
    }

    /**
     * Makes sure {@code sc}'s end releases what is parked for it.
     *
     * @param sc the SparkContext
     * @return its key
     * @throws IllegalStateException if {@code sc} is stopped
     */
    static String watch(SparkContext sc) {
        if (sc.isStopped()) {
            throw new IllegalStateException("gatun.spark: the SparkContext " + sc.applicationId() + " is stopped");
        }
        String key = key(sc);
        synchronized (WATCHED) {
            if (WATCHED.add(key)) {
                sc.addSparkListener(new SparkListener() {
                    @Override
                    public void onApplicationEnd(SparkListenerApplicationEnd end) {
                        synchronized (WATCHED) {
                            WATCHED.remove(key);
                        }
                        Parked.dropContext(key);
                    }
                });
            }
        }
        return key;
    }
}
