"""The PySpark suite (bench_spark.py): PySpark's own Arrow paths against
gatun.spark's, in one run, per master."""
