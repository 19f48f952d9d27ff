"""The ``python -m gatun`` command line: one module per subcommand
(:mod:`~gatun._cli.version`, :mod:`~gatun._cli.doctor`,
:mod:`~gatun._cli.bench`); this one only parses the arguments."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gatun",
        description="gatun-rs: call Java from Python through shared memory.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "version",
        help="versions of gatun-rs, its native module, the server jar, Python and pyarrow",
        description="Print the versions of gatun-rs, its native module and protocol, the "
        "server jar (path and version), Python and pyarrow. The exit code is 1 if the "
        "server jar is missing or is not a gatun-rs server jar.",
    )
    doctor = commands.add_parser(
        "doctor",
        help="check that this machine can run gatun (exit code 1 if a check fails)",
        description="Check Java (found as connect() finds it), the server jar, /dev/shm, "
        "the cache directory (class archives, crash reports), then start a JVM for a "
        "test call and an Arrow round trip. Each check prints OK or FAIL with the "
        "reason, or SKIP when a check it needs failed (not counted as a failure); the "
        "exit code is 1 if any check fails.",
    )
    doctor.add_argument(
        "--java", help="the java executable to check (default: JAVA_HOME, then PATH)"
    )
    bench = commands.add_parser(
        "bench",
        help="quick benchmarks: call latency and an Arrow round trip, against installed peers",
        description="Measure call latency and an Arrow round trip with gatun, and call "
        "latency with Py4J and JPype if they are installed (each in its own process), "
        "and print their ratios. For the full suites see benches/ in the repository.",
    )
    bench.set_defaults(subparser=bench)  # for errors found after parsing
    bench.add_argument(
        "--quick", action="store_true", help="a few seconds in all (fewer repetitions)"
    )
    bench.add_argument(
        "--peers",
        default="py4j,jpype",
        help="comma-separated peers to compare against if importable (default: py4j,jpype; "
        "'' for none)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m gatun`` with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "version":
        from gatun._cli.version import run_version

        return run_version()
    if args.command == "doctor":
        from gatun._cli.doctor import run_doctor

        return run_doctor(java=args.java)
    from gatun._cli.bench import PEERS, run_bench

    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        # A typo must not look like a peer that is merely not installed.
        args.subparser.error(
            f"unknown peer(s) for --peers: {', '.join(unknown)} (known: {', '.join(PEERS)})"
        )
    return run_bench(quick=args.quick, peers=peers)
