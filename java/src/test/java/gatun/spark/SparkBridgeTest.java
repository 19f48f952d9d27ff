package gatun.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Runs {@link SparkBridgeHarness} against a real Spark, in a child JVM whose
 * class path is Spark's jars ({@code GATUN_SPARK_JARS}, e.g. the pyspark
 * package's {@code jars} directory) plus the bridge's classes: Maven's
 * class path has Spark only as a compile-time API. Skipped when
 * {@code GATUN_SPARK_JARS} is unset; {@code scripts/spark-harness} runs the
 * same outside Maven.
 */
class SparkBridgeTest {
    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void localMode() throws Exception {
        assertEquals(0, runHarness("local[2]"), "harness in local[2]: see target/spark-harness-local.log");
    }

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void clusterMode() throws Exception {
        assertEquals(0, runHarness("local-cluster[2,1,1024]"),
                "harness in local-cluster: see target/spark-harness-cluster.log");
    }

    private static int runHarness(String master) throws Exception {
        String jars = System.getenv("GATUN_SPARK_JARS");
        Assumptions.assumeTrue(jars != null && !jars.isEmpty(), "GATUN_SPARK_JARS is not set");
        Path target = Path.of("target");
        StringBuilder cp = new StringBuilder(target.resolve("classes") + File.pathSeparator
                + target.resolve("test-classes") + File.pathSeparator + jars + File.separator + "*");
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaBin));
        cmd.addAll(sparkJvmOptions(javaBin, cp.toString()));
        cmd.addAll(List.of("-Dlog4j2.level=warn", "-cp", cp.toString(), SparkBridgeHarness.class.getName(), master));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Path log = target.resolve(master.startsWith("local-cluster") ? "spark-harness-cluster.log"
                : "spark-harness-local.log");
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        if (System.getenv("SPARK_HOME") == null) {
            pb.environment().put("SPARK_HOME", Path.of(jars).toAbsolutePath().getParent().toString());
        }
        pb.environment().putIfAbsent("SPARK_SCALA_VERSION", "2.13");
        Process p = pb.start();
        try {
            if (!p.waitFor(7, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                return -1;
            }
            if (p.exitValue() != 0) {
                System.err.println(Files.readString(log));
            }
            return p.exitValue();
        } finally {
            p.destroyForcibly();
        }
    }

    /** Spark's own JVM options, as {@link SparkJvmOptions} prints them from the jars on {@code cp}. */
    private static List<String> sparkJvmOptions(String javaBin, String cp) throws Exception {
        Process p = new ProcessBuilder(javaBin, "-cp", cp, SparkJvmOptions.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<String> options;
        try (var out = new BufferedReader(new InputStreamReader(p.getInputStream(),
                StandardCharsets.UTF_8))) {
            options = out.lines().toList();
        }
        assertEquals(0, p.waitFor(), "SparkJvmOptions could not read Spark's JavaModuleOptions");
        return options;
    }
}
