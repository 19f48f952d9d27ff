"""Run by an interpreter with a gatun wheel installed, from outside the
repository: the installed package (not the source tree) launches a JVM, makes a
call, and sends an Arrow table across and back. Prints one line per check."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

import gatun
from gatun.launcher import find_server_jar


def main() -> None:
    site = Path(gatun.__file__).resolve()
    if "site-packages" not in site.parts:
        sys.exit(f"gatun was imported from {site}, not from an installed wheel")
    jar = Path(find_server_jar()).resolve()
    if site.parent not in jar.parents:
        sys.exit(f"the server jar is {jar}, not the wheel's")
    print(f"ok imported {site.parent}, with its jar")
    table = pa.table({"x": pa.array(range(100_000), pa.int64()), "s": ["a", "bc"] * 50_000})
    with gatun.connect() as client:
        biggest = client.jvm.java.lang.Math.max(1, 2)
        if biggest != 2:
            sys.exit(f"Math.max(1, 2) returned {biggest!r}")
        print("ok Math.max(1, 2) == 2")
        root = client.send_arrow(table)
        rows = root.getRowCount()
        back = client.invoke_method(root, "slice", 0, rows)
        root.close()
        if not isinstance(back, pa.Table) or not back.equals(table):
            sys.exit(f"the table came back different: {back!r}")
        print(f"ok Arrow round trip of {rows} rows")


if __name__ == "__main__":
    main()
