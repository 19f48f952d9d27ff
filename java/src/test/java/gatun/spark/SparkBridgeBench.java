package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.execution.arrow.ArrowConverters;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The JVM half of the Spark lane, timed against Spark's own Arrow paths in the
 * same JVM (what PySpark's driver does, without the Python half): create +
 * action (in place vs Spark's decoder over 10K-row IPC batches, PySpark's
 * default) and toArrow (ArrowWriter into the bridge allocator vs
 * toArrowBatchRdd collected and loaded). Data: int64, float64, a 10-character
 * string. Medians of 5, milliseconds; {@code -Dgatun.bench.rows=1000000,...} picks the sizes. Run with {@code HARNESS_MAIN=gatun.spark.SparkBridgeBench
 * scripts/spark-harness local[2]}.
 */
public final class SparkBridgeBench {
    private static final int RUNS = 5;

    private SparkBridgeBench() {
    }

    /**
     * @param args {@code [master]}
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        String master = args.length > 0 ? args[0] : "local[2]";
        SparkSession spark = SparkSession.builder().master(master).appName("gatun-spark-bench")
                .config("spark.ui.enabled", "false").getOrCreate();
        System.out.printf("master %s, cores %d, %d runs each, median ms%n", master,
                spark.sparkContext().defaultParallelism(), RUNS);
        try {
            String sizes = System.getProperty("gatun.bench.rows", "100000,1000000,10000000");
            for (String n : sizes.split(",")) {
                bench(spark, Integer.parseInt(n.trim()));
            }
        } finally {
            spark.stop();
        }
    }

    private static void bench(SparkSession spark, int n) throws Exception {
        org.apache.spark.sql.classic.SparkSession classic = (org.apache.spark.sql.classic.SparkSession) spark;
        String[] action = {"sum(i)", "sum(f)", "max(length(s))"};
        VectorSchemaRoot[] input = new VectorSchemaRoot[1];
        Step build = () -> input[0] = table(n); // untimed: Python's data arrives ready
        long ours = median(build, () -> SparkBridge.createDataFrame(spark, input[0], 0).selectExpr(action).collect());
        long spark10k = median(build, () -> {
            List<byte[]> messages = new ArrayList<>();
            try (VectorSchemaRoot root = input[0]) {
                for (int start = 0; start < n; start += 10_000) {
                    try (VectorSchemaRoot slice = root.slice(start, Math.min(10_000, n - start))) {
                        messages.add(IpcMessage.of(slice));
                    }
                }
            }
            ArrowConverters.toDataFrame(CollectionConverters.asScala(messages.iterator()),
                    SparkSchemas.fromArrow(schema()).json(), classic).selectExpr(action).collect();
        });
        Dataset<Row> cached = spark.range(0, n, 1, 2).selectExpr("id AS i", "CAST(id AS DOUBLE) / 3 AS f",
                "lpad(CAST(id AS STRING), 10, 'x') AS s").cache();
        cached.count();
        Step none = () -> { };
        long floor = median(none, () -> cached.selectExpr(action).collect());
        long toArrow = median(none, () -> {
            try (ArrowReader r = SparkBridge.toArrow(cached)) {
                while (r.loadNextBatch()) {
                    r.getVectorSchemaRoot().getRowCount();
                }
            }
        });
        org.apache.spark.sql.classic.Dataset<Row> c = (org.apache.spark.sql.classic.Dataset<Row>) cached;
        long sparkToArrow = median(none, () -> {
            Schema s = SparkSchemas.toArrow(cached.schema(), SparkSchemas.timeZone(spark), false);
            for (byte[] m : c.toArrowBatchRdd().toJavaRDD().collect()) {
                IpcBatches.load(m, s).close();
            }
        });
        cached.unpersist(true);
        System.out.printf("%,d rows: create+action in place %d | Spark decoder, 10K-row batches %d (%.1fx) "
                + "| cached floor %d || toArrow ours %d | toArrowBatchRdd+load %d (%.1fx)%n", n, ours, spark10k,
                (double) spark10k / ours, floor, toArrow, sparkToArrow, (double) sparkToArrow / toArrow);
    }

    interface Step {
        void run() throws Exception;
    }

    private static long median(Step setup, Step step) throws Exception {
        setup.run();
        step.run(); // warm-up
        long[] t = new long[RUNS];
        for (int i = 0; i < RUNS; i++) {
            setup.run();
            long start = System.nanoTime();
            step.run();
            t[i] = (System.nanoTime() - start) / 1_000_000;
        }
        Arrays.sort(t);
        return t[RUNS / 2];
    }

    private static Schema schema() {
        try (VectorSchemaRoot r = table(0)) {
            return r.getSchema();
        }
    }

    /** int64, float64 and a 10-character string, on the bridge allocator (as Python's data arrives). */
    static VectorSchemaRoot table(int n) {
        BufferAllocator a = ArrowBridge.allocator();
        BigIntVector i = new BigIntVector("i", a);
        Float8Vector f = new Float8Vector("f", a);
        VarCharVector s = new VarCharVector("s", a);
        i.allocateNew(n);
        f.allocateNew(n);
        s.allocateNew(10L * n, n);
        for (int r = 0; r < n; r++) {
            i.set(r, r);
            f.set(r, r / 3.0);
            byte[] text = "xxxxxxxxxx".getBytes(StandardCharsets.US_ASCII);
            for (int k = 9, v = r; k >= 0 && v > 0; k--, v /= 10) {
                text[k] = (byte) ('0' + v % 10);
            }
            s.set(r, text);
        }
        i.setValueCount(n);
        f.setValueCount(n);
        s.setValueCount(n);
        return VectorSchemaRoot.of(i, f, s);
    }
}
