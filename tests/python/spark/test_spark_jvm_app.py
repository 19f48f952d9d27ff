"""Seed 001's case: a JVM application (here, one gatun launched with Spark on
its class path) builds a Dataset and hands it to Python through gatun; Python
reads it with to_arrow / to_pandas / to_arrow_reader — no PySpark session, no
py4j."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import gatun
import gatun.spark as gs


@pytest.fixture(scope="module")
def app(spark_java_options: list[str]) -> Iterator[tuple[gatun.GatunClient, gatun.JavaObject]]:
    """A JVM running Spark (local[2]) that gatun started, and its session."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    client = gatun.connect(classpath=[str(jars / "*")], jvm_options=spark_java_options)
    builder = client.jvm.org.apache.spark.sql.SparkSession.builder()
    for key, value in (
        ("spark.master", "local[2]"),
        ("spark.ui.enabled", "false"),
        ("spark.sql.session.timeZone", "UTC"),
    ):
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    yield client, session
    session.stop()
    client.close()


def test_a_dataset_from_jvm_code_reads_without_pyspark(
    app: tuple[gatun.GatunClient, gatun.JavaObject],
) -> None:
    _, session = app
    # What an application's run(request) would return: a Dataset<Row>.
    dataset = session.range(0, 20_000, 1, 4).selectExpr(
        "id",
        "cast(id as string) as s",
        "id % 3 = 0 as b",
        "date_add(date'2020-01-01', cast(id % 100 as int)) as d",
    )
    table = gs.to_arrow(dataset)
    assert table.schema.names == ["id", "s", "b", "d"]
    assert table.schema.field("d").type == pa.date32()
    assert table.column("id").to_pylist() == list(range(20_000))  # partition order
    assert table.column("s")[123].as_py() == "123"
    pdf = gs.to_pandas(dataset)
    assert len(pdf) == 20_000
    assert list(pdf.columns) == ["id", "s", "b", "d"]
    assert sum(b.num_rows for b in gs.to_arrow_reader(dataset)) == 20_000
    assert gs.to_polars(dataset).height == 20_000


def test_the_jvm_app_reads_python_data(app: tuple[gatun.GatunClient, gatun.JavaObject]) -> None:
    """The other direction, also without PySpark: Python's table becomes a
    Dataset in the application's JVM through SparkBridge."""
    client, session = app
    root = client.send_arrow(pa.table({"x": pa.array(range(1000), pa.int32())}))
    dataset = client.jvm.gatun.spark.SparkBridge.createDataFrame(session, root, 2)
    assert dataset.selectExpr("sum(x)").first().getLong(0) == sum(range(1000))
    assert gs.to_arrow(dataset.where("x < 5")).column("x").to_pylist() == [0, 1, 2, 3, 4]
    # Unreachable on both sides, the parked table goes, and its arena memory.
    del dataset, root
    deadline = time.monotonic() + 60
    while client.jvm.gatun.spark.SparkBridge.parkedTables():
        if time.monotonic() > deadline:  # a guard against a hang, not a timing
            pytest.fail("the Dataset's table is still parked")
        gc.collect()
        client.gc()
