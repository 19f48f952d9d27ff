package gatun.spark;

/**
 * Prints, one per line, the JVM options Spark's launcher gives its JVMs on
 * Java 17+ ({@code org.apache.spark.launcher.JavaModuleOptions}: the
 * {@code --add-opens} list), read from the Spark on the class path so that
 * the harness never keeps a copy that drifts from Spark's.
 */
public final class SparkJvmOptions {
    private SparkJvmOptions() {}

    /**
     * @param args unused
     * @throws ReflectiveOperationException when no Spark launcher is on the class path
     */
    public static void main(String[] args) throws ReflectiveOperationException {
        // By name: the launcher is not a compile-time dependency of the bridge.
        Object options = Class.forName("org.apache.spark.launcher.JavaModuleOptions")
                .getMethod("defaultModuleOptionArray").invoke(null);
        for (String option : (String[]) options) {
            System.out.println(option);
        }
        // Spark's scripts add this one too (Spark's reflection on Java 18+).
        System.out.println("-Djdk.reflect.useDirectMethodHandle=false");
    }
}
