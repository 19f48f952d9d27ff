"""The entry point (issue 16, seed 001): an object the server offers Python
as ``client.entry_point``, like Py4J's ``GatewayServer(entryPoint)``.

A hosting Java application registers it with
``GatunServer.startHosted(entryPoint)``; a launched server makes it from the
class named by ``connect(entry_point=...)`` / ``launch_gateway(entry_point=...)``.
The Java classes are tests/python/java/entry_point/ondemand/*.java, the shape of
seed 001: an app whose ``run(request)`` Python calls with a request it built.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gatun
from gatun import BridgeStartupError, GatunClient, JavaObject
from gatun.launcher import find_server_jar

pytestmark = pytest.mark.timeout(180)

SOURCES = Path(__file__).parent / "java" / "entry_point" / "ondemand"
ADD_OPENS = "--add-opens=java.base/java.nio=ALL-UNNAMED"


@pytest.fixture(scope="module")
def app_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    javac = shutil.which("javac")
    if javac is None:
        pytest.fail("javac is not on PATH: these tests compile Java classes; install a JDK")
    out = tmp_path_factory.mktemp("ondemand-classes")
    sources = sorted(map(str, SOURCES.glob("*.java")))
    subprocess.run([javac, "-d", str(out), "-cp", find_server_jar(), *sources], check=True)
    return out


def _run_a_job(client: GatunClient) -> None:
    app = client.entry_point
    assert isinstance(app, JavaObject)
    assert app.getClass().getName() == "ondemand.OnDemandApp"
    request = client.jvm.ondemand.JobRequest("s3://in", "select 1")
    assert list(app.run(request)) == ["s3://in:select 1", f"run {app.runs()}"]


@pytest.fixture(scope="module")
def hosted(app_classes: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Java application (ondemand.App) hosting a server with an entry point;
    yields its connection file."""
    conn = tmp_path_factory.mktemp("host") / "gatun.conn"
    classpath = os.pathsep.join([find_server_jar(), str(app_classes)])
    log = open(f"{conn}.log", "w")  # noqa: SIM115 - closed after the JVM
    host = subprocess.Popen(
        ["java", ADD_OPENS, "-cp", classpath, "ondemand.App", str(conn)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not conn.exists():
            if host.poll() is not None:
                pytest.fail(f"the host JVM exited: {Path(f'{conn}.log').read_text()}")
            if time.monotonic() > deadline:  # a guard against a hang, not a timing
                pytest.fail("the host JVM wrote no connection file in 60 s")
            time.sleep(0.05)
        yield conn
    finally:
        host.send_signal(signal.SIGKILL)
        host.wait()
        log.close()


def test_a_hosting_app_offers_its_entry_point_to_attached_clients(hosted: Path) -> None:
    with gatun.attach(connection_file=hosted) as client:
        _run_a_job(client)
        first = client.entry_point
    with gatun.attach(connection_file=hosted) as other:
        # The same Java object for every session of the server.
        assert other.entry_point.runs() == 1
        _run_a_job(other)
    assert first is not None


def test_a_launched_server_makes_the_named_entry_point(app_classes: Path) -> None:
    with gatun.connect(classpath=[str(app_classes)], entry_point="ondemand.OnDemandApp") as client:
        _run_a_job(client)
        _run_a_job(client)
        assert client.entry_point.runs() == 2  # one object, made once


def test_a_gateway_offers_its_entry_point_to_every_client(
    app_classes: Path, tmp_path: Path
) -> None:
    session = gatun.launch_gateway(
        socket_path=tmp_path / "gatun.sock",
        classpath=[str(app_classes)],
        entry_point="ondemand.OnDemandApp",
    )
    try:
        client = GatunClient(session.socket_path)
        assert client.connect()
        try:
            _run_a_job(client)
        finally:
            client.close()
    finally:
        session.stop()


def test_no_entry_point_is_none(client: GatunClient) -> None:
    assert client.entry_point is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ondemand.NoSuchApp", "ondemand.NoSuchApp was not found"),
        ("ondemand.NoDefaultConstructor", "no public no-argument constructor"),
        ("java.lang.ProcessBuilder", "denied by the gatun class policy"),
    ],
)
def test_an_entry_point_that_cannot_be_made_fails_the_start(
    app_classes: Path, name: str, expected: str
) -> None:
    with pytest.raises(BridgeStartupError, match=expected):
        gatun.connect(classpath=[str(app_classes)], entry_point=name, startup_timeout=60)


@pytest.mark.parametrize("bad", ["", "not a class", "1abc", 42])
def test_an_entry_point_that_is_not_a_class_name_is_refused_before_a_jvm_starts(
    bad: object,
) -> None:
    with pytest.raises(ValueError, match="entry_point must be a Java class name"):
        gatun.connect(entry_point=bad)  # type: ignore[arg-type]


def test_the_async_client_awaits_the_entry_point(app_classes: Path) -> None:
    import asyncio

    from gatun.async_client import AsyncGatunClient

    with gatun.connect(classpath=[str(app_classes)], entry_point="ondemand.OnDemandApp") as client:

        async def use() -> int:
            aclient = AsyncGatunClient(client)
            assert not aclient.closed
            app = await aclient.entry_point
            result = await app.run(client.jvm.ondemand.JobRequest("s3://async", "select 2"))
            assert list(result) == ["s3://async:select 2", "run 1"]
            return int(await app.runs())

        assert asyncio.run(use()) == 1
