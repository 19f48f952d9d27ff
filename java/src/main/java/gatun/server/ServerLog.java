package gatun.server;

import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The server's log: {@code java.util.logging} logger {@code gatun} (and its
 * children, {@code gatun.session}, {@code gatun.resolve}). A launched JVM's
 * stderr reaches Python ({@code connect(output=...)}), so these lines do too.
 *
 * <p>{@code -Dgatun.log.level=LEVEL} (a {@code java.util.logging} level name:
 * {@code SEVERE}, {@code WARNING}, {@code INFO}, {@code FINE}, ...; session start and end
 * are FINE) sets the
 * logger's level and gives it a one-line console handler on stderr;
 * {@code -Dgatun.trace=true} logs every method or constructor resolution
 * (logger {@code gatun.resolve}, level FINE, printed whatever the level),
 * and sets the level to FINE unless one is given. Without either property the host's logging configuration is
 * left alone (a Spark driver keeps its own).
 */
public final class ServerLog {
    /** The root of the server's loggers. */
    public static final Logger LOG = Logger.getLogger("gatun");
    /** Session start and end. */
    public static final Logger SESSIONS = Logger.getLogger("gatun.session");
    /** Method and constructor resolutions (trace mode). */
    public static final Logger RESOLVE = Logger.getLogger("gatun.resolve");

    private static final boolean TRACE = Boolean.getBoolean("gatun.trace");

    static {
        configure(System.getProperty("gatun.log.level"), TRACE);
    }

    private ServerLog() {
    }

    /** @return whether resolutions are logged */
    public static boolean tracing() {
        return TRACE && RESOLVE.isLoggable(Level.FINE);
    }

    static void configure(String levelName, boolean trace) {
        if ((levelName == null || levelName.isBlank()) && !trace) {
            return;
        }
        Level level;
        try {
            level = levelName == null || levelName.isBlank() ? Level.FINE
                    : Level.parse(levelName.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            System.err.println("gatun: -Dgatun.log.level=" + levelName + " is not a java.util.logging level"
                    + " (SEVERE, WARNING, INFO, CONFIG, FINE, FINER, FINEST, ALL, OFF); using INFO");
            level = Level.INFO;
        }
        Handler handler = new ConsoleHandler();
        handler.setLevel(Level.ALL);
        handler.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                String text = "gatun " + r.getLevel().getName() + " [" + r.getLoggerName() + "] "
                        + formatMessage(r) + System.lineSeparator();
                if (r.getThrown() != null) {
                    java.io.StringWriter w = new java.io.StringWriter();
                    r.getThrown().printStackTrace(new java.io.PrintWriter(w));
                    text += w;
                }
                return text;
            }
        });
        LOG.setUseParentHandlers(false);
        LOG.addHandler(handler);
        LOG.setLevel(level);
        if (trace) {
            // Trace lines print whatever the level (upstream's needed FINER too).
            RESOLVE.setLevel(Level.FINE);
        }
    }
}
