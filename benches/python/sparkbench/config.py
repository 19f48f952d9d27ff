"""What the PySpark suite measures: sizes, repetitions, masters, the session
configuration both paths share, and the cases."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
ROOT = HERE.parent.parent

LOCAL = "local[2]"
CLUSTER = "local-cluster[2,1,1024]"
QUICK = {"sizes": (100_000, 1_000_000), "masters": (LOCAL,), "reps": 3}
FULL = {"sizes": (100_000, 1_000_000, 10_000_000), "masters": (LOCAL, CLUSTER), "reps": 3}
#: Rows of the nested-type case (array<int>), run once per master.
NESTED_ROWS = 1_000_000

#: The same for PySpark's path and ours (the reference measurements' setup).
SESSION_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "4g",
    "spark.executor.memory": "1024m",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

#: The action after createDataFrame: every column read.
ACTION = ("sum(i)", "sum(f)", "max(length(s))")
NESTED_ACTION = ("sum(i)", "sum(size(a))", "max(a[0])")

#: (case, path) -> label; path "pyspark" is PySpark's own, "gatun" ours.
CASES = {
    "create": "createDataFrame + action",
    "create_nested": "createDataFrame + action, array<int>",
    "to_arrow": "toArrow (cached)",
    "to_pandas": "toPandas (cached)",
    "to_arrow_nested": "toArrow (cached), array<int>",
}
PATHS = ("pyspark", "gatun")
