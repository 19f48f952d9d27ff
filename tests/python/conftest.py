"""Shared fixtures: a JVM per test session, a fresh JVM for tests that break
theirs, and a small compiled Java class for field access."""

from __future__ import annotations

import gc
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import gatun
from gatun import _session

_JVM_FIXTURES = {"client", "fresh_client", "fields_client"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_jvm = _JVM_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_jvm or item.module.__name__.endswith(("test_seed_examples", "test_lifecycle")):
            item.add_marker(pytest.mark.jvm)


@pytest.fixture(scope="session")
def spark_java_options() -> list[str]:
    """The JVM options Spark's launcher gives its JVMs on Java 17+ (the
    ``--add-opens`` list), read from Spark's own ``JavaModuleOptions`` in
    PySpark's jars, plus one Spark's scripts add."""
    pyspark = pytest.importorskip("pyspark")
    jars = Path(pyspark.__file__).parent / "jars"
    with gatun.connect(classpath=[str(jars / "*")]) as spark_jars:
        options = spark_jars.jvm.org.apache.spark.launcher.JavaModuleOptions
        listed = [str(o) for o in options.defaultModuleOptionArray()]
    return [*listed, "-Djdk.reflect.useDirectMethodHandle=false"]


@pytest.fixture(scope="session")
def client() -> Iterator[gatun.GatunClient]:
    """One JVM shared by the whole session; tests must leave it usable."""
    session_client = gatun.connect()
    yield session_client
    session_client.close()


def _arena_regions(collect: bool = False) -> dict[int, int]:
    """Live payload-arena regions per open session, after the JVM's pending
    release notices are in (a ping carries them back); with ``collect``,
    after a garbage collection in the JVM too (what Java no longer
    references comes back only then, unless Java closed it)."""
    counts = {}
    for session in _session.live_sessions():
        if session.closed:
            continue
        if collect:
            session.gc(5.0)
        else:
            session.ping()
        counts[id(session)] = session.native.arena_regions_in_use
    return counts


@pytest.fixture(autouse=True)
def _memory_returns_to_baseline() -> Iterator[None]:
    """Every test gives back what it took: arena regions (Arrow data in shared
    memory; Java roots must be closed or unreachable) and pyarrow's own allocations."""
    import pyarrow as pa

    gc.collect()
    regions_before = _arena_regions()
    pyarrow_before = pa.total_allocated_bytes()
    yield
    gc.collect()
    regions_after = _arena_regions()

    def still_held() -> dict[int, tuple[int, int]]:
        return {
            k: (regions_before.get(k, 0), n)
            for k, n in regions_after.items()
            if n > regions_before.get(k, 0)
        }

    # What Java no longer references comes back after a JVM collection; on a
    # machine this loaded the JVM's cleaner can lag one collection's wait,
    # so up to three (15 s) before calling it a leak.
    for _ in range(3):
        if not still_held():
            break
        gc.collect()
        regions_after = _arena_regions(collect=True)
    leaked = still_held()
    assert not leaked, f"arena regions still in use after the test (before, after): {leaked}"
    grown = pa.total_allocated_bytes() - pyarrow_before
    assert grown <= 0, f"pyarrow holds {grown} more bytes than before the test"


@pytest.fixture
def fresh_client() -> Iterator[gatun.GatunClient]:
    """A private JVM for a test that kills, closes or floods it."""
    own = gatun.connect()
    yield own
    own.close()


_FIELDS_SOURCE = """
package gatuntest;

/** Public fields for the field-access tests. */
public class Fields {
    public static int counter = 7;
    public static String label = "start";
    public static final int CONSTANT = 42;
    public int x;
    public String name = "fields";
    private int hidden = 3;

    public Fields() {}
    public Fields(int x) { this.x = x; }
    public int getX() { return x; }
    public int getHidden() { return hidden; }
}
"""


def _javac() -> str:
    """javac, or a failure: without it the field-access, Arrow-Java, async and
    callback tests cannot run, and skipping them would hide what they guard."""
    javac = shutil.which("javac")
    if javac is None:
        pytest.fail(
            "javac is not on PATH: the tests compile Java helper classes; install a JDK "
            "(17 or later), not only a JRE"
        )
    return javac


@pytest.fixture(scope="session")
def test_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``gatuntest.Fields`` compiled with javac."""
    javac = _javac()
    root = tmp_path_factory.mktemp("java-classes")
    source = root / "gatuntest" / "Fields.java"
    source.parent.mkdir()
    source.write_text(textwrap.dedent(_FIELDS_SOURCE))
    subprocess.run([javac, "-d", str(root), str(source)], check=True)
    return root


def server_jar() -> Path:
    """The server jar the tests' Java helper classes compile against."""
    bundled = Path(gatun.__file__).resolve().parent / "jars" / "gatun-server.jar"
    if bundled.exists():
        return bundled
    return Path(__file__).resolve().parents[2] / "java" / "target" / "gatun-server.jar"


@pytest.fixture(scope="session")
def java_helpers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/python/java/gatuntest/*.java compiled with javac against the server jar."""
    javac = _javac()
    out = tmp_path_factory.mktemp("gatuntest-classes")
    sources = sorted((Path(__file__).resolve().parent / "java" / "gatuntest").glob("*.java"))
    cmd = [javac, "-d", str(out), "-cp", str(server_jar()), *map(str, sources)]
    subprocess.run(cmd, check=True)
    return out


@pytest.fixture(scope="session")
def fields_client(test_classes: Path) -> Iterator[gatun.GatunClient]:
    """A JVM with :func:`test_classes` on its classpath."""
    own = gatun.connect(classpath=[str(test_classes)])
    yield own
    own.close()
