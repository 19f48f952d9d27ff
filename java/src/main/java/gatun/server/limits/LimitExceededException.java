package gatun.server.limits;

/**
 * A request went beyond one of its session's {@link Limits}. The message
 * starts as upstream Gatun's does ("Object limit exceeded", "String too
 * long", ...) and names the limit and how to raise it: the
 * {@code -Dgatun.limits.*} property, or the session's own {@code limits=}
 * when that set it lower. The session stays usable.
 */
public final class LimitExceededException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /**
     * @param what upstream's message text, with the numbers
     * @param limit the name of the limit ({@link Limits#NAMES})
     * @param sessionValue the value in force when the session lowered the
     *     limit itself (with {@code limits=}), else -1
     * @param serverValue the server's value of the limit
     */
    public LimitExceededException(String what, String limit, long sessionValue, long serverValue) {
        super(what + " (" + (sessionValue < 0 ? Limits.howToRaise(limit)
                : "limit " + limit + ": this session's limits= set " + limit + " to " + sessionValue
                        + "; the server allows up to " + serverValue + ", so connect with a larger limits= value")
                + ")");
    }
}
