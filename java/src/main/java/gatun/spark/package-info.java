/**
 * Spark DataFrames from and to Arrow data through the bridge: the JVM half of
 * Python's {@code gatun.spark}. {@link gatun.spark.SparkBridge} is the entry
 * point, {@link gatun.spark.Handoff} moves objects between PySpark's py4j
 * gateway and gatun's. Spark is a compile-time dependency only: nothing
 * outside this package refers to it, so the server runs without Spark.
 */
package gatun.spark;
