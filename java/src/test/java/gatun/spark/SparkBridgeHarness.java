package gatun.spark;

import gatun.server.arrow.ArrowBridge;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.UInt4Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.ObjectType$;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Runs SparkBridge against a real Spark (PySpark's jars) in one master,
 * {@code local[2]} or {@code local-cluster[2,1,1024]}, and exits non-zero on
 * the first failed check. {@link SparkBridgeTest} runs it in a child JVM (the
 * class path is Spark's, not Maven's).
 */
public final class SparkBridgeHarness {
    /** Every type of PySpark's Arrow path, with nulls in each column; 0..n-1 in order. */
    static final String[] ALL_TYPES = {
        "id",
        "IF(id % 7 = 1, NULL, id % 2 = 0) AS b",
        "IF(id % 7 = 2, NULL, CAST(id % 100 AS TINYINT)) AS i8",
        "IF(id % 7 = 3, NULL, CAST(id % 30000 AS SMALLINT)) AS i16",
        "IF(id % 7 = 4, NULL, CAST(id AS INT)) AS i32",
        "IF(id % 7 = 5, NULL, id * 3) AS i64",
        "IF(id % 7 = 6, NULL, CAST(id AS FLOAT) / 3) AS f32",
        "IF(id % 7 = 0, NULL, CAST(id AS DOUBLE) / 7) AS f64",
        "IF(id % 5 = 1, NULL, CAST(id * 1.5 AS DECIMAL(38, 10))) AS d38",
        "IF(id % 5 = 2, NULL, CAST(id / 4 AS DECIMAL(10, 2))) AS d10",
        "IF(id % 5 = 3, NULL, CONCAT('s', id, '✓')) AS s",
        "IF(id % 5 = 4, NULL, CAST(CONCAT('b', id) AS BINARY)) AS bin",
        "IF(id % 6 = 1, NULL, DATE_ADD(DATE'2020-01-01', CAST(id AS INT))) AS dt",
        "IF(id % 6 = 2, NULL, TIMESTAMP_MICROS(id * 1000003 + 1577836800000000)) AS ts",
        "IF(id % 6 = 3, NULL, CAST(TIMESTAMP_MICROS(id * 999983) AS TIMESTAMP_NTZ)) AS ntz",
        "IF(id % 6 = 4, NULL, MAKE_DT_INTERVAL(0, 0, 0, CAST(id AS DECIMAL(18, 6)) / 1000)) AS dti",
        "IF(id % 6 = 5, NULL, ARRAY(id, id + 1, NULL)) AS arr",
        "IF(id % 4 = 1, NULL, MAP(CONCAT('k', id), id, 'z', NULL)) AS m",
        "IF(id % 4 = 2, NULL, NAMED_STRUCT('a', id, 'b', IF(id % 3 = 0, NULL, CONCAT('x', id)))) AS st",
        "IF(id % 4 = 3, NULL, ARRAY(NAMED_STRUCT('p', id, 'q', ARRAY(CONCAT('y', id)), "
                + "'r', MAP(id, ARRAY(CAST(id AS DOUBLE)))))) AS nested",
        "CAST(NULL AS STRING) AS all_null",
        "NULL AS nothing",
    };

    private static int checks;

    private SparkBridgeHarness() {
    }

    /**
     * @param args {@code [master]}
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        String master = args.length > 0 ? args[0] : "local[2]";
        BufferAllocator bridge = ArrowBridge.allocator();
        long baseline = bridge.getAllocatedMemory();
        SparkSession spark = SparkSession.builder().master(master).appName("gatun-spark-harness")
                .config("spark.ui.enabled", System.getProperty("gatun.harness.ui", "false")).config("spark.sql.session.timeZone", "America/New_York")
                .config("spark.sql.shuffle.partitions", "4").getOrCreate();
        try {
            boolean local = spark.sparkContext().isLocal();
            handMadeTable(spark, local);
            for (String large : new String[] {"false", "true"}) {
                spark.conf().set(SparkSchemas.LARGE_VAR_TYPES, large);
                allTypes(spark, 5_000, large);
            }
            spark.conf().set(SparkSchemas.LARGE_VAR_TYPES, "false");
            emptyFrames(spark);
            largePartitions(spark, local);
            unsupportedColumn(spark);
            ResultPortChecks.run(spark);
            if (local) {
                lifetime(spark);
            }
            handoff();
            // Something parked when the context stops: a live DataFrame and an unread result.
            Dataset<Row> kept = SparkBridge.createDataFrame(spark, longs(bridge, 1000), 2);
            ArrowReader unread = SparkBridge.toArrow(spark.range(0, 1000, 1, 3).toDF());
            check(unread.loadNextBatch(), "a first batch (its job runs at the first read)");
            // Cluster results are parked as their partitions arrive: wait for them.
            long waitUntil = System.nanoTime() + 60_000_000_000L;
            while (SparkBridge.parkedTables() < (local ? 3 : 2) && System.nanoTime() < waitUntil) {
                Thread.sleep(20);
            }
            check(SparkBridge.parkedTables() >= (local ? 3 : 2), "parked before stop: " + SparkBridge.parkedTables());
            spark.stop();
            check(SparkBridge.parkedTables() == 0, "spark.stop() released everything parked, left "
                    + SparkBridge.parkedTables());
            unread.close();
            check(kept.columns().length == 1, "kept");
        } finally {
            spark.stop();
        }
        if (master.startsWith("local[")) {
            retries();
        }
        check(bridge.getAllocatedMemory() == baseline, "bridge allocator back to its baseline: "
                + bridge.getAllocatedMemory() + " != " + baseline);
        System.out.println("gatun.spark harness " + master + ": " + checks + " checks passed");
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError("FAILED: " + what);
        }
        checks++;
    }

    static VectorSchemaRoot longs(BufferAllocator a, int n) {
        BigIntVector v = new BigIntVector("v", a);
        v.allocateNew(n);
        for (int i = 0; i < n; i++) {
            v.set(i, i);
        }
        v.setValueCount(n);
        return VectorSchemaRoot.of(v);
    }

    /** A table built by hand, checked against sums computed here. */
    static void handMadeTable(SparkSession spark, boolean local) {
        int n = 200_000;
        BufferAllocator a = ArrowBridge.allocator();
        BigIntVector i = new BigIntVector("i", a);
        Float8Vector f = new Float8Vector("f", a);
        VarCharVector s = new VarCharVector("s", a);
        i.allocateNew(n);
        f.allocateNew(n);
        s.allocateNew(n);
        long sum = 0;
        int nulls = 0;
        for (int r = 0; r < n; r++) {
            i.set(r, r * 3L);
            sum += r * 3L;
            if (r % 10 == 0) {
                f.setNull(r);
                nulls++;
            } else {
                f.set(r, 0.5);
            }
            s.setSafe(r, ("row" + r).getBytes(StandardCharsets.UTF_8));
        }
        i.setValueCount(n);
        f.setValueCount(n);
        s.setValueCount(n);
        VectorSchemaRoot root = VectorSchemaRoot.of(i, f, s);
        Dataset<Row> df = SparkBridge.createDataFrame(spark, root, 0);
        if (local) {
            check(df.rdd().getNumPartitions() == 2, "automatic partitions follow the cores: "
                    + df.rdd().getNumPartitions());
            check(SparkBridge.parkedTables() == 1 && SparkBridge.parkedBytes() > 0, "the table is parked");
        }
        for (int run = 0; run < 2; run++) { // re-executed: the parked table is still there
            Row agg = df.selectExpr("sum(i)", "count(f)", "sum(f)", "max(length(s))", "count(*)").first();
            check(agg.getLong(0) == sum, "sum(i) " + agg.getLong(0) + " != " + sum);
            check(agg.getLong(1) == n - nulls, "count(f)");
            check(agg.getDouble(2) == 0.5 * (n - nulls), "sum(f)");
            check(agg.getInt(3) == ("row" + (n - 1)).length(), "max(length(s))");
            check(agg.getLong(4) == n, "count(*)");
        }
        Row last = df.filter("i = " + 3L * (n - 1)).first();
        check(last.getString(2).equals("row" + (n - 1)), "filtered row");
        Dataset<Row> small = SparkBridge.createDataFrame(spark, longs(a, 1000), 0);
        if (local) {
            check(small.rdd().getNumPartitions() == 1, "a small table is one partition");
        }
        check(small.count() == 1000, "small count");
    }

    /** Every type: Spark's rows → toArrow → createDataFrame (root, stream) → the same rows. */
    static void allTypes(SparkSession spark, int n, String large) throws Exception {
        Dataset<Row> source = spark.range(0, n, 1, 3).selectExpr(ALL_TYPES);
        List<Row> expected = source.collectAsList();
        String what = " (useLargeVarTypes=" + large + ")";

        // toArrow equals Spark's own Arrow batches (toArrowBatchRdd), partition by partition.
        List<VectorSchemaRoot> ours = batches(SparkBridge.toArrow(source));
        List<VectorSchemaRoot> lazy = batches(SparkBridge.toArrowReader(source));
        List<VectorSchemaRoot> spark4 = sparksOwn(source);
        check(same(ours, spark4), "toArrow equals Spark's Arrow batches" + what + ":\n" + head(ours) + "\n---\n"
                + head(spark4));
        check(same(lazy, ours), "toArrowReader equals toArrow" + what);
        for (VectorSchemaRoot b : ours) {
            for (FieldVector v : b.getFieldVectors()) {
                if (v instanceof org.apache.arrow.vector.DecimalVector) {
                    check(v.getDataBuffer().memoryAddress() % 16 == 0, "column " + v.getName()
                            + ": 16-byte values at a 16-byte boundary (arrow-rs refuses others)");
                }
            }
        }
        for (List<VectorSchemaRoot> l : List.of(ours, lazy, spark4)) {
            l.forEach(VectorSchemaRoot::close);
        }

        // One batch as a table → createDataFrame(root).
        try (ArrowReader one = SparkBridge.toArrow(source.coalesce(1))) {
            check(one.loadNextBatch(), "one batch");
            VectorSchemaRoot root = ArrowBridge.handOff(one.getVectorSchemaRoot()).root();
            boolean isLarge = root.getSchema().findField("s").getType() instanceof ArrowType.LargeUtf8;
            check(isLarge == Boolean.parseBoolean(large), "string type follows useLargeVarTypes" + what);
            Dataset<Row> back = SparkBridge.createDataFrame(spark, root, 0);
            check(back.collectAsList().equals(expected), "createDataFrame(root) gives Spark's rows back" + what);
            check(back.collectAsList().equals(expected), "re-executed" + what);
        }
        // Written with the other string layout: the IPC path must conform it.
        spark.conf().set(SparkSchemas.LARGE_VAR_TYPES, large.equals("true") ? "false" : "true");
        ArrowReader flipped = SparkBridge.toArrow(source);
        spark.conf().set(SparkSchemas.LARGE_VAR_TYPES, large);
        Dataset<Row> streamed = SparkBridge.createDataFrame(spark, flipped, 0);
        check(streamed.collectAsList().equals(expected), "createDataFrame(reader) gives Spark's rows back" + what);
        check(streamed.orderBy("id").collectAsList().equals(expected), "and sorts" + what);
        Dataset<Row> cached = SparkBridge.createDataFrame(spark, SparkBridge.toArrow(source), 4).cache();
        check(cached.count() == n && cached.orderBy("id").collectAsList().equals(expected), "cached stream DataFrame" + what);
        check(cached.rdd().getNumPartitions() == 4, "numPartitions on the stream path");
        cached.unpersist(true);
    }

    /** Reads a stream to its end, keeping each batch (the caller closes them). */
    static List<VectorSchemaRoot> batches(ArrowReader reader) throws Exception {
        List<VectorSchemaRoot> out = new ArrayList<>();
        try (reader) {
            while (reader.loadNextBatch()) {
                out.add(ArrowBridge.handOff(reader.getVectorSchemaRoot()).root());
            }
        }
        return out;
    }

    static boolean same(List<VectorSchemaRoot> a, List<VectorSchemaRoot> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!a.get(i).equals(b.get(i))) {
                return false;
            }
        }
        return true;
    }

    /** Spark's own Arrow batches of a DataFrame, one per non-empty partition. */
    static List<VectorSchemaRoot> sparksOwn(Dataset<Row> df) throws Exception {
        org.apache.spark.sql.classic.Dataset<Row> d = (org.apache.spark.sql.classic.Dataset<Row>) df;
        String tz = SparkSchemas.timeZone(df.sparkSession());
        boolean large = SparkSchemas.largeVarTypes(df.sparkSession());
        org.apache.arrow.vector.types.pojo.Schema schema = SparkSchemas.toArrow(df.schema(), tz, large);
        List<VectorSchemaRoot> out = new ArrayList<>();
        for (byte[] m : d.toArrowBatchRdd(-1, tz, true, large).toJavaRDD().collect()) {
            VectorSchemaRoot r = IpcBatches.load(m, schema);
            if (r.getRowCount() > 0) {
                out.add(r);
            } else {
                r.close();
            }
        }
        return out;
    }

    static String head(List<VectorSchemaRoot> batches) {
        String all = batches.isEmpty() ? "(none)" : batches.get(0).contentToTSVString();
        return batches.size() + " batches; " + all.substring(0, Math.min(all.length(), 600));
    }

    /** Partitions larger than a batch come back as several batches, in order. */
    static void largePartitions(SparkSession spark, boolean local) throws Exception {
        int n = 600_000;
        List<VectorSchemaRoot> got = batches(SparkBridge.toArrow(spark.range(0, n, 1, 2).toDF()));
        long expect = 0;
        for (VectorSchemaRoot b : got) {
            BigIntVector v = (BigIntVector) b.getVector(0);
            for (int i = 0; i < b.getRowCount(); i++) {
                if (v.get(i) != expect++) {
                    check(false, "row " + (expect - 1) + " in order");
                }
            }
            b.close();
        }
        check(expect == n, "every row: " + expect);
        int batches = local ? 4 : 6; // 300K-row partitions: 2^18-row batches / 2^17-row messages
        check(got.size() == batches, "batches " + got.size() + " != " + batches);
    }

    static void emptyFrames(SparkSession spark) throws Exception {
        Dataset<Row> none = spark.range(0).selectExpr(ALL_TYPES);
        check(batches(SparkBridge.toArrow(none)).isEmpty(), "empty toArrow: no batches");
        try (ArrowReader r = SparkBridge.toArrow(none)) {
            check(r.getVectorSchemaRoot().getSchema().getFields().size() == ALL_TYPES.length, "empty keeps schema");
        }
        Dataset<Row> back = SparkBridge.createDataFrame(spark, longs(ArrowBridge.allocator(), 0), 0);
        check(back.count() == 0 && back.columns().length == 1, "empty createDataFrame(root)");
        Dataset<Row> streamed = SparkBridge.createDataFrame(spark, SparkBridge.toArrow(none), 0);
        check(streamed.count() == 0 && streamed.schema().equals(none.schema()),
                "empty createDataFrame(reader): " + streamed.schema().treeString() + " != " + none.schema().treeString());
    }

    static void unsupportedColumn(SparkSession spark) {
        UInt4Vector u = new UInt4Vector("unsigned_col", ArrowBridge.allocator());
        u.allocateNew(1);
        u.set(0, 1);
        u.setValueCount(1);
        VectorSchemaRoot root = VectorSchemaRoot.of(u);
        long before = ArrowBridge.allocator().getAllocatedMemory();
        try {
            SparkBridge.createDataFrame(spark, root, 0);
            check(false, "an unsupported column is refused");
        } catch (IllegalArgumentException e) {
            check(e.getMessage().contains("unsigned_col"), "the error names the column: " + e.getMessage());
        }
        check(ArrowBridge.allocator().getAllocatedMemory() < before, "a refused table is closed");
        try { // nothing a DataFrame holds lacks an Arrow form in Spark 4.3; an object column stands in
            SparkSchemas.toArrow(new StructType(new StructField[] {
                new StructField("id", DataTypes.LongType, false, Metadata.empty()),
                new StructField("object_col", ObjectType$.MODULE$.apply(String.class), true, Metadata.empty())}),
                    "UTC", false);
            check(false, "a result column without an Arrow form is refused");
        } catch (IllegalArgumentException e) {
            check(e.getMessage().contains("object_col"), "the error names the result column: " + e.getMessage());
        }
    }

    /** Local mode: tables live while their DataFrame does, and go once it is unreachable. */
    static void lifetime(SparkSession spark) throws Exception {
        check(waitParked(0), "nothing parked at the start: " + SparkBridge.parkedTables());
        Dataset<Row> df = SparkBridge.createDataFrame(spark, longs(ArrowBridge.allocator(), 100_000), 3);
        Dataset<Row> derived = df.selectExpr("v * 2 AS w").filter("w % 3 = 0").cache();
        long count = derived.count();
        check(count == 33_334, "derived count " + count);
        df = null;
        System.gc();
        check(derived.count() == count && SparkBridge.parkedTables() == 1, "a derived DataFrame keeps the table");
        derived.unpersist(true);
        derived = null;
        check(waitParked(0), "the table is released once its DataFrames are unreachable: "
                + SparkBridge.parkedTables());

        Dataset<Row> gone = SparkBridge.createDataFrame(spark, longs(ArrowBridge.allocator(), 10), 1);
        long id = Parked.count(); // the only table
        check(id == 1, "one table");
        Parked.dropContext(SparkContexts.key(spark.sparkContext()));
        try {
            gone.collectAsList();
            check(false, "a task whose table is gone fails");
        } catch (Exception e) { // SparkException, checked but thrown through Scala
            check(String.valueOf(rootCause(e).getMessage()).contains("has been released"),
                    "the failure says the data is gone: " + rootCause(e));
        }

        // toArrow results: an unread reader's partitions go when it is closed or unreachable.
        ArrowReader r = SparkBridge.toArrow(spark.range(0, 1000, 1, 4).toDF());
        check(SparkBridge.parkedTables() == 0, "nothing runs before the first read");
        long fallbacks = ArrowBridge.exportStats()[4];
        check(r.loadNextBatch(), "first batch");
        for (FieldVector v : r.getVectorSchemaRoot().getFieldVectors()) {
            for (org.apache.arrow.memory.ArrowBuf b : v.getBuffers(false)) {
                check(b.getReferenceManager().getAllocator().getRoot() == ArrowBridge.allocator(),
                        "a served batch's buffers lie on the bridge allocator (Python maps them in place)");
            }
        }
        check(ArrowBridge.exportStats()[4] == fallbacks, "no allocation fell back to native memory");
        check(SparkBridge.parkedTables() == 3, "served partitions leave the registry");
        r.close();
        check(SparkBridge.parkedTables() == 0, "closing the reader releases the rest");
        ArrowReader dropped = SparkBridge.toArrow(spark.range(0, 1000, 1, 4).toDF());
        check(dropped.loadNextBatch() && SparkBridge.parkedTables() == 3, "the other three partitions parked");
        dropped = null;
        check(waitParked(0), "an unreachable reader releases its partitions");
    }

    /**
     * Failed task attempts (local[2,2]: one retry): the first attempt of
     * partition 0 fails half-way; the retry must give the right result, and
     * the failed attempt must leave nothing behind (no lease, no root).
     */
    static void retries() throws Exception {
        SparkSession spark = SparkSession.builder().master("local[2,2]").appName("gatun-spark-retries")
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            long before = ArrowBridge.allocator().getAllocatedMemory();
            spark.udf().register("flaky", (UDF1<Long, Long>) v -> {
                TaskContext t = TaskContext.get();
                if (t.attemptNumber() == 0 && t.partitionId() == 0 && v == 500) {
                    throw new IllegalStateException("flaky: the first attempt fails half-way");
                }
                return v;
            }, DataTypes.LongType);
            long sum = 0;
            long rows = 0;
            for (VectorSchemaRoot b : batches(SparkBridge.toArrow(spark.range(0, 10_000, 1, 2)
                    .selectExpr("flaky(id) AS id")))) {
                BigIntVector v = (BigIntVector) b.getVector(0);
                for (int i = 0; i < b.getRowCount(); i++) {
                    sum += v.get(i);
                }
                rows += b.getRowCount();
                b.close();
            }
            check(rows == 10_000 && sum == 49_995_000L, "toArrow with a retried task: " + rows + " rows, sum " + sum);
            check(SparkBridge.parkedTables() == 0, "nothing parked after the reader is read");
            check(ArrowBridge.allocator().getAllocatedMemory() == before, "the failed attempt's root was closed");

            Dataset<Row> df = SparkBridge.createDataFrame(spark, longs(ArrowBridge.allocator(), 10_000), 2)
                    .selectExpr("flaky(v) AS v");
            check(df.selectExpr("sum(v)").first().getLong(0) == 49_995_000L, "in-place read with a retried task");
            df = null;
            check(waitParked(0), "the failed attempt gave its lease back: " + SparkBridge.parkedTables());
        } finally {
            spark.stop();
        }
    }

    static Throwable rootCause(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    static boolean waitParked(long want) throws InterruptedException {
        for (int i = 0; i < 200 && SparkBridge.parkedTables() != want; i++) {
            System.gc();
            ArrowBridge.reclaim(100); // waits for the collector's cleaners, not a fixed time
        }
        return SparkBridge.parkedTables() == want;
    }

    static void handoff() {
        Object o = new ArrayList<FieldVector>();
        String key = Handoff.put(o);
        check(Handoff.take(key) == o, "Handoff returns the object");
        try {
            Handoff.take(key);
            check(false, "a key is taken once");
        } catch (IllegalArgumentException e) {
            check(e.getMessage().contains(key), "the error names the key");
        }
    }
}
