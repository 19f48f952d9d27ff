"""``python -m gatun doctor``: can this machine run gatun? Each check prints
OK or FAIL with its reason, or SKIP when a check it needs failed (a skipped
check is not counted as a failure: one missing Java is one failure, not
three); the exit code is 1 if any failed."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

__all__ = ["run_doctor"]

#: Less free /dev/shm than this is worth a note: a client attached to a
#: hosting JVM (``gatun.attach``, ``launch_gateway`` clients) hands its arena
#: over as files there. ``connect()`` uses memfd segments, which do not.
_MIN_SHM_FREE = 64 << 20

_ROWS = 100_000


class _Fail(Exception):
    """A check failed; the message is the reason."""


def _mib(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def _java(java: str | None) -> str:
    from gatun import _native
    from gatun.config import get_config
    from gatun.exceptions import JavaNotFoundError

    config = get_config()
    source = "the --java option" if java else config.java_source
    try:
        # A java that never answers must not hang the doctor.
        path, major = _native.find_java(java or config.java, source=source, timeout=10.0)
    except JavaNotFoundError as e:
        raise _Fail(str(e)) from None
    return f"{path} (Java {major})"


def _jar() -> str:
    from gatun._cli.version import jar_problem, jar_version
    from gatun._launch_support import find_server_jar
    from gatun.exceptions import BridgeStartupError

    try:
        jar = find_server_jar()
    except BridgeStartupError as e:
        raise _Fail(str(e)) from None
    problem = jar_problem(jar)
    if problem is not None:
        raise _Fail(problem)
    return f"{jar} (version {jar_version(jar)}, {_mib(os.path.getsize(jar))})"


def _shm() -> str:
    if not sys.platform.startswith("linux"):
        return "not used on this platform"
    try:
        st = os.statvfs("/dev/shm")
    except OSError as e:
        raise _Fail(f"cannot read /dev/shm: {e}") from None
    size, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    detail = f"/dev/shm size {_mib(size)}, free {_mib(free)}"
    if free < _MIN_SHM_FREE:
        # Not a failure: connect()'s segments are memfds, outside /dev/shm.
        return (
            f"{detail}: fine for connect() (memfd segments); attached clients "
            f"(gatun.attach, launch_gateway) keep their arena there and need more than "
            f"{_mib(_MIN_SHM_FREE)}"
        )
    return detail


def _writable(directory: os.PathLike[str]) -> bool:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK)


def _cache() -> str:
    from gatun._cache import cache_dir, class_archive_dir, crash_report_dir

    cache, archives = cache_dir(), class_archive_dir()
    reports, fallback = crash_report_dir()
    if fallback:
        # Not a failure: gatun runs, only slower to start and with its crash
        # reports elsewhere.
        where = f"crash reports go to {reports}" if reports else "no crash report directory"
        cds = "class archives in " + str(archives) if _writable(archives) else "no class archive"
        return (
            f"note: {cache} cannot be created or written (XDG_CACHE_HOME or HOME?): {where}; {cds}"
        )
    for directory in (cache, archives):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _Fail(
                f"cannot create {directory}: {e} (JVMs start without a class archive)"
            ) from None
        if not os.access(directory, os.W_OK):
            raise _Fail(f"{directory} is not writable")
    jsa = list(archives.glob("*.jsa"))
    crashes = sorted(cache.glob("hs_err_pid*.log"))
    cds = os.environ.get("GATUN_CDS", "")
    state = "off (GATUN_CDS)" if cds.lower() in ("0", "off", "false", "no") else "on"
    detail = (
        f"{cache}; class archives {state} in {archives}: {len(jsa)} "
        f"({_mib(sum(p.stat().st_size for p in jsa))})"
    )
    if crashes:
        detail += f"; {len(crashes)} JVM crash report(s), latest {crashes[-1]}"
    return detail


def _jvm(results: list[str]) -> Callable[[], str]:
    """The test call and the Arrow round trip share one JVM: the first check
    starts it and leaves the second's result in ``results``."""

    def calls() -> str:
        import pyarrow as pa

        import gatun

        started = time.perf_counter()
        with gatun.connect(output=None) as client:
            launch = time.perf_counter() - started
            answer = client.jvm.java.lang.Math.max(3, 7)
            if answer != 7:
                raise _Fail(f"Math.max(3, 7) returned {answer!r}")
            for i in range(200):  # warm-up: class loading, JIT
                client.jvm.java.lang.Math.max(i, 7)
            timings = []
            for i in range(200):
                t0 = time.perf_counter()
                client.jvm.java.lang.Math.max(i, 7)
                timings.append(time.perf_counter() - t0)
            table = pa.table({"x": pa.array(range(_ROWS)), "s": [str(i) for i in range(_ROWS)]})
            t0 = time.perf_counter()
            root = client.send_arrow(table)
            back = client.invoke_method(root, "slice", 0, _ROWS)
            trip = time.perf_counter() - t0
            root.close()
            if not back.equals(table):
                results.append(f"FAIL: the table came back different: {back.schema}")
            else:
                results.append(
                    f"{_ROWS:,} rows ({_mib(table.nbytes)}) to Java and back in {trip * 1e3:.1f} ms"
                )
        return (
            f"JVM started in {launch:.2f} s; Math.max(3, 7) = 7; "
            f"call latency p50 {statistics.median(timings) * 1e6:.0f} us"
        )

    return calls


def run_doctor(java: str | None = None) -> int:
    """Run every check and print its result; 0 if all passed, else 1."""
    arrow: list[str] = []
    # (name, check, the checks it needs): a check whose prerequisite failed is
    # skipped, since its failure would only repeat that one.
    checks: list[tuple[str, Callable[[], str], tuple[str, ...]]] = [
        ("java", lambda: _java(java), ()),
        ("server jar", _jar, ()),
        ("shared memory", _shm, ()),
        ("cache directory", _cache, ()),
        ("test call", _jvm(arrow), ("java", "server jar")),
    ]
    failed: list[str] = []
    skipped: list[str] = []
    for name, check, needs in checks:
        missing = [n for n in needs if n in failed]
        if missing:
            skipped.append(name)
            plural = "s" if len(missing) > 1 else ""
            _report(None, name, f"the {' and '.join(missing)} check{plural} failed")
            continue
        try:
            _report(True, name, check())
        except _Fail as e:
            failed.append(name)
            _report(False, name, str(e))
        except Exception as e:  # noqa: BLE001 - a doctor reports every failure and goes on
            failed.append(name)
            _report(False, name, f"{type(e).__name__}: {e}")
    if "test call" in failed or "test call" in skipped:
        skipped.append("Arrow round trip")
        why = "failed" if "test call" in failed else "was skipped"
        _report(None, "Arrow round trip", f"the test call {why}")
    else:
        ok = bool(arrow) and not arrow[0].startswith("FAIL: ")
        detail = arrow[0].removeprefix("FAIL: ") if arrow else "not run"
        _report(ok, "Arrow round trip", detail)
        if not ok:
            failed.append("Arrow round trip")
    print(_summary(failed, skipped))
    return 1 if failed else 0


def _summary(failed: list[str], skipped: list[str]) -> str:
    if not failed:
        return "\nall checks OK"
    line = f"\n{len(failed)} check(s) failed: {', '.join(failed)}"
    if skipped:
        line += f"; {len(skipped)} skipped: {', '.join(skipped)}"
    return line


def _report(ok: bool | None, name: str, detail: str) -> None:
    """One line per check: ``OK``, ``FAIL``, or ``SKIP`` (``ok`` is None)
    with the reason it was not run."""
    marker = "SKIP" if ok is None else "OK  " if ok else "FAIL"
    print(f"{marker} {name}: {detail}", flush=True)
