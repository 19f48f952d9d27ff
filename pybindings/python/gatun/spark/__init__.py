"""PySpark's fast lane: DataFrames in and out of a Spark driver through
shared memory.

>>> import gatun.spark as gs                       # doctest: +SKIP
>>> df = gs.create_dataframe(spark, arrow_table)    # doctest: +SKIP
>>> table = gs.to_arrow(df.groupBy("k").count())    # doctest: +SKIP
>>> gs.enable(spark)   # spark.createDataFrame / df.toArrow / df.toPandas go fast  # doctest: +SKIP

:func:`attach` starts a gatun server inside the session's own driver JVM
(through PySpark's py4j gateway; no ``spark.jars`` setting needed) and
returns a client; the other functions use it. Everything works on classic
sessions (Spark Connect sessions have no driver JVM to reach).
"""

from __future__ import annotations

from gatun.spark._collect import to_arrow, to_arrow_reader, to_pandas, to_polars
from gatun.spark._create import create_dataframe
from gatun.spark._enable import disable, enable, is_enabled
from gatun.spark._gateway import attach, to_gatun, to_py4j

__all__ = [
    "attach",
    "create_dataframe",
    "disable",
    "enable",
    "is_enabled",
    "to_arrow",
    "to_arrow_reader",
    "to_gatun",
    "to_pandas",
    "to_polars",
    "to_py4j",
]
