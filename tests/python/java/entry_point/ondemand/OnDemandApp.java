package ondemand;

import java.util.List;

/** The entry point of seed 001: Python calls {@code run(request)}. */
public class OnDemandApp {
    private int runs;

    /** The no-argument constructor a launched server uses. */
    public OnDemandApp() {
    }

    /**
     * @param request the job
     * @return its result rows
     */
    public synchronized List<String> run(JobRequest request) {
        runs++;
        return List.of(request.input() + ":" + request.query(), "run " + runs);
    }

    /** @return how many jobs ran on this object */
    public synchronized int runs() {
        return runs;
    }
}
