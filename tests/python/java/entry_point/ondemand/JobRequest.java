package ondemand;

/** What Python builds and hands the entry point (seed 001's JobRequest). */
public final class JobRequest {
    private final String input;
    private final String query;

    /**
     * @param input where the job reads
     * @param query what it runs
     */
    public JobRequest(String input, String query) {
        this.input = input;
        this.query = query;
    }

    /** @return where the job reads */
    public String input() {
        return input;
    }

    /** @return what it runs */
    public String query() {
        return query;
    }
}
