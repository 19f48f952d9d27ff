package gatun.server;

/**
 * An object id that is not live in the requesting session (never issued,
 * already released, or issued by another session).
 */
public final class UnknownObjectException extends IllegalArgumentException {
    /**
     * @param id the id Python sent
     */
    public UnknownObjectException(long id) {
        super("object id " + id + " is not live in this session");
    }
}
