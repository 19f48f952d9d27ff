package gatun.server.limits;

/**
 * A request went beyond one of its session's {@link Limits}. The message
 * starts as upstream Gatun's does ("Object limit exceeded", "String too
 * long", ...) and names the limit and how to raise it. The session stays
 * usable.
 */
public final class LimitExceededException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /**
     * @param what upstream's message text, with the numbers
     * @param limit the name of the limit ({@link Limits#NAMES})
     */
    public LimitExceededException(String what, String limit) {
        super(what + " (" + Limits.howToRaise(limit) + ")");
    }
}
