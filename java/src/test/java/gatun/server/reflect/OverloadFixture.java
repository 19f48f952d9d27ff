package gatun.server.reflect;



/** Public overloads for resolver tests; f ties for (null, null). */
public final class OverloadFixture {
    private OverloadFixture() {
    }

    /**
     * @param a a
     * @param b b
     * @return "IS"
     */
    public static String f(Integer a, String b) {
        return "IS";
    }

    /**
     * @param a a
     * @param b b
     * @return "SI"
     */
    public static String f(String a, Integer b) {
        return "SI";
    }

    /**
     * @param a a
     * @return "long"
     */
    public static String g(long a) {
        return "long";
    }

    /**
     * @param a a
     * @return "Long"
     */
    public static String g(Long a) {
        return "Long";
    }

    /**
     * @param a a
     * @return "Object"
     */
    public static String g(Object a) {
        return "Object";
    }

    /**
     * @param a a
     * @return "short"
     */
    public static String s(short a) {
        return "short" + a;
    }
}

