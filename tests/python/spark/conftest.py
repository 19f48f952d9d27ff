"""PySpark sessions for gatun.spark's tests: one SparkContext at a time per
process, so sessions are made per master and kept until a test needs the
other master (tests of both masters take the session-scoped ``spark`` fixture, which
pytest groups by master)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

LOCAL = "local[2]"
CLUSTER = "local-cluster[2,1,1024]"
#: A zone with daylight saving, so zone mistakes show.
TIME_ZONE = "America/New_York"

_current: dict[str, object] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        master = callspec.params.get("master") if callspec is not None else None
        if "spark_cluster" in names or master == CLUSTER:
            item.add_marker(pytest.mark.spark_cluster)
        if {"spark", "spark_cluster", "spark_local"} & names:
            item.add_marker(pytest.mark.jvm)


def session_for(master: str) -> object:
    """The SparkSession of ``master``, stopping another master's first."""
    from pyspark.sql import SparkSession

    spark = _current.get(master)
    if spark is not None and spark.sparkContext._jsc is not None:  # type: ignore[attr-defined]
        return spark
    for other in list(_current.values()):
        other.stop()  # type: ignore[attr-defined]
    _current.clear()
    import pyspark

    # local-cluster starts executors with SPARK_HOME's scripts: the pip
    # package is a complete SPARK_HOME.
    os.environ.setdefault("SPARK_HOME", str(Path(pyspark.__file__).parent))
    # Python UDFs run in workers of this interpreter (with pyarrow), not the system's python3.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName("gatun-spark-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", TIME_ZONE)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.executor.memory", "1024m")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    _current[master] = spark
    return spark


@pytest.fixture(scope="session", params=[CLUSTER, LOCAL], ids=["cluster", "local"])
def master(request: pytest.FixtureRequest) -> str:
    """Each master (session-scoped, so pytest runs every test of one master
    before the other's)."""
    return str(request.param)


@pytest.fixture
def spark(master: str) -> Iterator[object]:
    """A session of ``master``."""
    return session_for(master)


@pytest.fixture
def spark_local() -> Iterator[object]:
    """A local[2] session (kept between tests)."""
    return session_for(LOCAL)


@pytest.fixture
def spark_cluster() -> Iterator[object]:
    """A local-cluster[2,1,1024] session: executors in two other JVMs."""
    return session_for(CLUSTER)


@pytest.fixture(scope="session", autouse=True)
def _stop_spark() -> Iterator[None]:
    yield
    for spark in list(_current.values()):
        spark.stop()  # type: ignore[attr-defined]
    _current.clear()


#: How long released Spark data may take to come back (GC on both sides).
RELEASE_TIMEOUT = 60.0


def wait_unparked(spark: object, timeout: float = RELEASE_TIMEOUT) -> None:
    """Wait until ``SparkBridge`` holds no data: Python's proxies collected
    (py4j then drops its references), the JVM collected, the bridge's
    cleaners run. Fails with the count still held after ``timeout``."""
    import gc
    import time

    import gatun.spark as gs

    jvm = spark._jvm  # type: ignore[attr-defined]
    client = gs.attach(spark)  # also loads the bridge's classes
    bridge = jvm.gatun.spark.SparkBridge
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()
        client.ping()  # carries the releases of collected gatun proxies to the JVM
        jvm.java.lang.System.gc()
        held = bridge.parkedTables()
        if held == 0:
            return
        if time.monotonic() > deadline:  # a guard against a hang, not a timing
            pytest.fail(f"SparkBridge still holds {held} tables")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _spark_data_released() -> Iterator[None]:
    """Every test leaves nothing parked in the driver (before the arena
    baseline check of tests/python/conftest.py, which runs after this)."""
    yield
    for spark in list(_current.values()):
        if spark.sparkContext._jsc is not None:  # type: ignore[attr-defined]
            wait_unparked(spark)


@pytest.fixture(params=[False, True], ids=["small_var", "large_var"])
def large_var_types(request: pytest.FixtureRequest) -> bool:
    """Both settings of spark.sql.execution.arrow.useLargeVarTypes."""
    return bool(request.param)


def set_conf(spark: object, key: str, value: str) -> str | None:
    """Set ``key``; returns the old value for :func:`restore_conf`."""
    conf = spark.conf  # type: ignore[attr-defined]
    old = conf.get(key, None)
    conf.set(key, value)
    return old


def restore_conf(spark: object, key: str, old: str | None) -> None:
    conf = spark.conf  # type: ignore[attr-defined]
    if old is None:
        conf.unset(key)
    else:
        conf.set(key, old)
