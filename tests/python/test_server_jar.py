"""The server jar lives inside other people's JVMs (a Spark driver): it carries
no third-party classes besides Arrow's unrelocated, its own classes never name
arrow-memory-unsafe (Spark ships only arrow-memory-netty), and a server hosted
in a JVM with PySpark's jars first still lets Spark run its jobs."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from gatun.launcher import find_server_jar

# Packages that may sit in the jar at their own names: ours, and Arrow's, which
# JVM code must share with Spark or the user.
_OWN_PREFIXES = ("gatun/", "org/apache/arrow/")
_SPARK_HOST = Path(__file__).resolve().parent / "java" / "spark_host" / "HostedInSpark.java"


def _jar() -> zipfile.ZipFile:
    return zipfile.ZipFile(find_server_jar())


def test_jar_holds_only_gatun_and_arrow_classes() -> None:
    with _jar() as jar:
        classes = [e for e in jar.namelist() if e.endswith(".class")]
    assert any(e.startswith("gatun/server/") for e in classes)
    foreign = sorted(
        e for e in classes if e.startswith("META-INF/versions/") or not e.startswith(_OWN_PREFIXES)
    )
    # Multi-release variants (META-INF/versions/N/...) count as foreign: the shade
    # plugin leaves them at unrelocated paths.
    assert not foreign, f"unrelocated third-party classes in the server jar: {foreign[:20]}"


def test_service_files_name_relocated_classes() -> None:
    with _jar() as jar:
        services = {
            e: jar.read(e).decode()
            for e in jar.namelist()
            if e.startswith("META-INF/services/") and not e.endswith("/")
        }
    assert services, "expected the relocated slf4j and jackson service files"
    own = tuple(p.replace("/", ".") for p in _OWN_PREFIXES)
    for entry, text in services.items():
        interface = entry.removeprefix("META-INF/services/")
        assert interface.startswith(own), f"{entry} is not relocated"
        providers = [
            line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()
        ]
        for provider in providers:
            assert provider.startswith(own), f"{entry} names unrelocated {provider}"
    assert "META-INF/services/gatun.shaded.slf4j.spi.SLF4JServiceProvider" in services


def _constant_pool_strings(data: bytes) -> list[str]:
    """The UTF-8 constants of a class file (class, member and descriptor names live there)."""
    if data[:4] != b"\xca\xfe\xba\xbe":
        raise ValueError("not a class file")
    count = struct.unpack_from(">H", data, 8)[0]
    at, index, strings = 10, 1, []
    sizes = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2}
    sizes.update({17: 4, 18: 4, 19: 2, 20: 2})
    while index < count:
        tag = data[at]
        at += 1
        if tag == 1:
            (length,) = struct.unpack_from(">H", data, at)
            strings.append(data[at + 2 : at + 2 + length].decode("utf-8", "replace"))
            at += 2 + length
        elif tag in sizes:
            at += sizes[tag]
        else:
            raise ValueError(f"constant pool tag {tag} at byte {at - 1}")
        index += 2 if tag in (5, 6) else 1
    return strings


def test_constant_pool_reader_sees_class_references() -> None:
    with _jar() as jar:
        strings = _constant_pool_strings(jar.read("gatun/server/arrow/ArrowWarmup.class"))
    assert "org/apache/arrow/memory/RootAllocator" in strings


@pytest.mark.parametrize(
    "forbidden",
    [
        "org/apache/arrow/memory/unsafe",
        "com/fasterxml/",
        "org/slf4j/",
        "org/apache/commons/",
        "com/google/flatbuffers/",
    ],
)
def test_bridge_classes_never_name(forbidden: str) -> None:
    """arrow-memory-unsafe is absent from Spark's JVM; the others live relocated in gatun.shaded."""
    with _jar() as jar:
        bridge = [
            e
            for e in jar.namelist()
            if e.startswith("gatun/") and not e.startswith("gatun/shaded/") and e.endswith(".class")
        ]
        offenders = [
            e for e in bridge if any(forbidden in s for s in _constant_pool_strings(jar.read(e)))
        ]
    assert bridge, "no bridge classes in the jar"
    assert not offenders, f"classes naming {forbidden}: {offenders}"


def _pyspark_jars() -> Path:
    pyspark = pytest.importorskip("pyspark")
    jars = Path(pyspark.__file__).resolve().parent / "jars"
    if not jars.is_dir():
        pytest.skip(f"pyspark has no jars directory at {jars}")
    return jars


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java:
        pytest.fail("java is not on PATH")
    return java


@pytest.mark.jvm
@pytest.mark.timeout(300)
@pytest.mark.parametrize("server_classes", ["whole-jar", "gatun-classes-only"])
def test_hosted_server_beside_spark(
    server_classes: str, tmp_path: Path, spark_java_options: list[str]
) -> None:
    """PySpark's jars first, ours after: Spark's Arrow is the one used, the
    bridge's allocators work on it, and a Spark job still runs with Spark's own
    logging. With only the jar's gatun/ classes, arrow-memory-unsafe is
    unreachable, as in a Spark driver that loads the bridge's classes alone."""
    jars = _pyspark_jars()
    if server_classes == "whole-jar":
        ours = find_server_jar()
        args = []
    else:
        ours = str(tmp_path / "gatun-classes")
        with _jar() as jar:
            jar.extractall(ours, [e for e in jar.namelist() if e.startswith("gatun/")])
        args = ["no-unsafe"]
    classpath = os.pathsep.join([str(jars / "*"), ours])
    cmd = [_java(), *spark_java_options, f"-Djava.io.tmpdir={tmp_path}"]
    cmd += ["-cp", classpath, str(_SPARK_HOST), *args]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=280, check=False)
    lines = run.stdout.splitlines()
    assert run.returncode == 0, f"{lines}\n{run.stderr[-3000:]}"
    assert any(line.startswith("ok Spark runs a job") for line in lines), lines
    if args:
        assert "ok arrow-memory-unsafe is not on the class path" in lines
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("gatun-host-")], (
        "the hosted server left its directory behind"
    )
