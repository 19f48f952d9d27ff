"""``enable(spark)``: that session's ``createDataFrame`` of Arrow, pandas and
polars data and its DataFrames' ``toArrow()`` / ``toPandas()`` take the fast
paths; everything they do not cover goes to PySpark's own code unchanged.

``createDataFrame`` is replaced on the session instance; ``toArrow`` and
``toPandas`` on PySpark's classic ``DataFrame`` class, once, by dispatchers
that route only DataFrames of enabled sessions.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from gatun.exceptions import UnsupportedArrowTypeError
from gatun.spark import _gateway

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["disable", "enable", "is_enabled"]

_lock = threading.Lock()
_enabled: weakref.WeakSet[Any] = weakref.WeakSet()
_class_patched = False


def enable(spark: SparkSession) -> bool:
    """Route ``spark``'s conversions through gatun; ``False`` (nothing
    changed) for a session without a py4j gateway, such as Spark Connect.

    Fast: ``spark.createDataFrame(data)`` of a pyarrow ``Table`` /
    ``RecordBatch`` / ``RecordBatchReader``, a polars DataFrame or another
    Arrow producer, or a non-empty pandas DataFrame when
    ``spark.sql.execution.arrow.pyspark.enabled`` is on; ``df.toArrow()``;
    ``df.toPandas()`` when Arrow is enabled. PySpark's own: ``schema=`` or
    ``samplingRatio=`` arguments, rows, lists, dicts, and any data with a type
    the fast path does not take.
    """
    try:
        _gateway.check_classic(spark)
    except TypeError:
        return False
    with _lock:
        _patch_dataframe_class()
        if spark not in _enabled:
            original = spark.createDataFrame
            spark.createDataFrame = _create_dispatcher(spark, original)  # type: ignore[method-assign]
            _enabled.add(spark)
    return True


def disable(spark: SparkSession) -> None:
    """Undo :func:`enable` for ``spark`` (a no-op if it was not enabled)."""
    with _lock:
        if spark in _enabled:
            _enabled.discard(spark)
            spark.__dict__.pop("createDataFrame", None)


def is_enabled(spark: SparkSession) -> bool:
    """Whether :func:`enable` routes ``spark``'s conversions."""
    return spark in _enabled


def _arrow_errors() -> tuple[type[BaseException], ...]:
    """pyarrow's conversion errors (pandas data Arrow cannot type, casts it
    has no kernel for): PySpark falls back from those, so ``enable`` does."""
    import pyarrow as pa

    return (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def _falls_back(error: BaseException, data: Any) -> bool:
    """Whether ``enable``'s createDataFrame leaves ``data`` to PySpark after
    ``error``: a type the fast path refuses, pyarrow's conversion errors, and
    any error preparing a pandas frame (PySpark's own Arrow conversion of it
    fails the same way, then PySpark converts without Arrow), but never a
    bridge failure."""
    if isinstance(error, (UnsupportedArrowTypeError, *_arrow_errors())):
        return True
    from gatun.exceptions import GatunError, JavaException

    pandas = type(data).__module__.startswith("pandas")
    return pandas and not isinstance(error, (GatunError, JavaException))


def _create_dispatcher(spark: Any, original: Any) -> Any:
    def createDataFrame(  # PySpark's names, so keyword calls keep working
        data: Any,
        schema: Any = None,
        samplingRatio: Any = None,  # noqa: N803
        verifySchema: bool = True,  # noqa: N803
    ) -> Any:
        if schema is None and samplingRatio is None and _fast_create_input(spark, data):
            from gatun.spark._create import create_dataframe

            try:
                return create_dataframe(spark, data)
            except Exception as e:
                # PySpark's path decides: it may convert (a pandas column of
                # mixed objects, duplicate column names or a naive time in a
                # DST gap fall back to its non-Arrow path), or raise its own error.
                if not _falls_back(e, data):
                    raise
        return original(data, schema, samplingRatio, verifySchema)

    createDataFrame.__doc__ = original.__doc__
    createDataFrame.__wrapped__ = original  # type: ignore[attr-defined]
    return createDataFrame


def _fast_create_input(spark: Any, data: Any) -> bool:
    import pyarrow as pa

    if isinstance(data, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
        return True
    module = type(data).__module__
    if module.startswith("pandas"):
        if type(data).__name__ != "DataFrame" or len(data) == 0:
            return False  # PySpark infers an empty frame's types from Python objects
        return _arrow_enabled(spark)
    if module.startswith("polars"):
        return type(data).__name__ == "DataFrame"
    if isinstance(data, (list, tuple, dict)) or module.startswith(("pyspark", "numpy")):
        return False
    return hasattr(data, "__arrow_c_stream__")


def _arrow_enabled(spark: Any) -> bool:
    """``spark.sql.execution.arrow.pyspark.enabled``: PySpark's pandas
    conversions use Arrow only then (else their results differ slightly)."""
    (enabled,) = spark._jconf.getConfs(["spark.sql.execution.arrow.pyspark.enabled"])
    return bool(enabled == "true")


def _patch_dataframe_class() -> None:
    """Install the ``toArrow`` / ``toPandas`` dispatchers on PySpark's classic
    DataFrame class (once per process)."""
    global _class_patched
    if _class_patched:
        return
    from pyspark.sql.classic.dataframe import DataFrame

    original_to_arrow = DataFrame.toArrow
    original_to_pandas = DataFrame.toPandas

    def toArrow(self: Any) -> Any:
        if self.sparkSession in _enabled:
            from gatun.spark._collect import to_arrow

            try:
                return to_arrow(self)
            except UnsupportedArrowTypeError:
                pass
        return original_to_arrow(self)

    def toPandas(self: Any) -> Any:
        spark = self.sparkSession
        if spark in _enabled and _arrow_enabled(spark):
            from gatun.spark._collect import to_pandas

            try:
                return to_pandas(self)
            except UnsupportedArrowTypeError:
                pass
        return original_to_pandas(self)

    for name, fast, original in (
        ("toArrow", toArrow, original_to_arrow),
        ("toPandas", toPandas, original_to_pandas),
    ):
        fast.__doc__ = original.__doc__
        fast.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(DataFrame, name, fast)
    _class_patched = True
