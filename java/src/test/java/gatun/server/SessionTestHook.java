package gatun.server;

import java.util.List;

/** Opens Session's package-private helpers to tests in other packages. */
public final class SessionTestHook {
    private SessionTestHook() {
    }

    /** @param objects objects of an ended session */
    public static void closeArrowObjects(List<Object> objects) {
        Session.closeArrowObjects(objects);
    }
}
