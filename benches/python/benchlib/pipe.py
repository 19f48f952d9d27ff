"""Driver side of a worker subprocess that takes JSON-line commands on stdin
and answers one JSON line each on stdout; used by bench_calls.py and
bench_doorbell.py, whose peers each run in a process of their own."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path

WORKER_TIMEOUT = 300.0  # seconds a single worker command may take


class Worker:
    """A worker subprocess driven over a pipe (JSON lines); its stderr goes to
    ``worker-<name>.log`` in ``logdir``."""

    def __init__(self, name: str, argv: list[str], logdir: str):
        self.dead: str | None = None
        self.log_path = os.path.join(logdir, f"worker-{name}.log")
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in quit())
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def ask(self, msg: dict, timeout: float = WORKER_TIMEOUT) -> dict:
        if self.dead:
            return {"ok": False, "error": self.dead}
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
            line = self.lines.get(timeout=timeout)
        except (BrokenPipeError, OSError) as e:
            line = None
            self.dead = f"worker pipe: {e}"
        except queue.Empty:
            self.kill()
            self.dead = f"timed out after {timeout:.0f} s"
            return {"ok": False, "error": self.dead}
        if line is None:
            self.dead = self.dead or f"worker exited ({self.proc.poll()}): {self.tail()}"
            return {"ok": False, "error": self.dead}
        return json.loads(line)

    def tail(self) -> str:
        self.log.flush()
        try:
            lines = [
                ln.strip() for ln in Path(self.log_path).read_text().splitlines() if ln.strip()
            ]
        except OSError:
            return ""
        return lines[-1][:200] if lines else ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def quit(self):
        if not self.dead:
            self.ask({"cmd": "quit"}, timeout=30)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.log.close()
