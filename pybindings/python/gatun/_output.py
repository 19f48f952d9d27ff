"""Forwarding the launched JVM's stdout and stderr to Python.

A daemon thread reads what the JVM writes (the native reader waits without
the GIL) and hands it to the destination ``connect(output=...)`` chose:

- ``"python"`` (default): ``sys.stdout`` / ``sys.stderr``, looked up at each
  write, so ``contextlib.redirect_stdout`` and pytest's capture see it;
  ``"stderr"``: both to ``sys.stderr`` (what ``debug=True`` selects);
- ``"logging"`` or a :class:`logging.Logger`: one record per line on logger
  ``gatun.jvm`` (or the one given), INFO for stdout and WARNING for stderr;
- a path or an open file: both streams appended there;
- ``None``: nothing (the last 64 KiB of stderr still go into startup errors).

The thread holds the output only, never the session: it ends when the JVM's
streams close (``close()``, the JVM's exit).
"""

from __future__ import annotations

import codecs
import logging
import os
import sys
import threading
from typing import IO, Any

from gatun import _native

__all__ = ["OutputTarget", "check", "forward", "forward_reader"]

#: What ``connect(output=...)`` accepts.
OutputTarget = Any  # "python" | "logging" | logging.Logger | str | os.PathLike | IO | None

_STDOUT, _STDERR = 1, 2


def forward(native: _native.NativeClient, target: OutputTarget) -> threading.Thread | None:
    """Start forwarding ``native``'s JVM output to ``target``; the thread, or
    ``None`` when there is nothing to forward (an attached client)."""
    return forward_reader(native.output_reader(), target)


def forward_reader(reader: Any, target: OutputTarget) -> threading.Thread | None:
    """Start forwarding what ``reader`` (a ``JvmOutputReader``) yields."""
    if reader is None:
        return None
    sink = _sink(target)
    thread = threading.Thread(
        target=_pump, args=(reader, sink), name="gatun-jvm-output", daemon=True
    )
    thread.start()
    return thread


def _pump(reader: Any, sink: _Sink) -> None:
    try:
        while True:
            item = reader.next(0.5)
            if item is None:
                break
            if item:
                stream, data = item
                sink.write(stream, data)
    finally:
        sink.close()


class _Sink:
    """Decodes each stream (UTF-8, a character split across chunks kept
    whole) and writes the text somewhere."""

    def __init__(self) -> None:
        self._decoders = {
            s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in (_STDOUT, _STDERR)
        }

    def write(self, stream: int, data: bytes) -> None:
        text = self._decoders[stream].decode(data)
        if text:
            self.emit(stream, text)

    def emit(self, stream: int, text: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        for stream, decoder in self._decoders.items():
            rest = decoder.decode(b"", final=True)
            if rest:
                self.emit(stream, rest)


class _Discard(_Sink):
    def emit(self, stream: int, text: str) -> None:
        pass


class _PythonStreams(_Sink):
    def __init__(self, everything_to_stderr: bool = False) -> None:
        super().__init__()
        self._stderr_only = everything_to_stderr

    def emit(self, stream: int, text: str) -> None:
        out = sys.stdout if stream == _STDOUT and not self._stderr_only else sys.stderr
        if out is None:  # pythonw, or closed at interpreter exit
            return
        try:
            out.write(text)
            out.flush()
        except (OSError, ValueError):
            pass  # a closed stream: output has nowhere to go


class _Logging(_Sink):
    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self._logger = logger
        self._partial = {_STDOUT: "", _STDERR: ""}

    def emit(self, stream: int, text: str) -> None:
        lines = (self._partial[stream] + text).split("\n")
        self._partial[stream] = lines.pop()
        for line in lines:
            self._log(stream, line.rstrip("\r"))

    def _log(self, stream: int, line: str) -> None:
        level = logging.INFO if stream == _STDOUT else logging.WARNING
        self._logger.log(
            level, "%s", line, extra={"jvm_stream": "stdout" if stream == _STDOUT else "stderr"}
        )

    def close(self) -> None:
        super().close()
        for stream, rest in self._partial.items():
            if rest:
                self._log(stream, rest)


class _File(_Sink):
    def __init__(self, file: IO[Any], owned: bool) -> None:
        super().__init__()
        self._file = file
        self._owned = owned
        self._lock = threading.Lock()

    def emit(self, stream: int, text: str) -> None:
        with self._lock:
            try:
                if "b" in getattr(self._file, "mode", ""):
                    self._file.write(text.encode())
                else:
                    self._file.write(text)
                self._file.flush()
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        super().close()
        if self._owned:
            self._file.close()


def _sink(target: OutputTarget) -> _Sink:
    if target is None:
        return _Discard()
    if isinstance(target, str) and target == "python":
        return _PythonStreams()
    if isinstance(target, str) and target == "stderr":
        return _PythonStreams(everything_to_stderr=True)
    if isinstance(target, str) and target == "logging":
        return _Logging(logging.getLogger("gatun.jvm"))
    if isinstance(target, logging.Logger):
        return _Logging(target)
    if isinstance(target, (str, os.PathLike)):
        return _File(open(target, "a", encoding="utf-8"), owned=True)
    if hasattr(target, "write"):
        return _File(target, owned=False)
    raise TypeError(
        "output must be 'python', 'logging', a logging.Logger, a path, a file or None, "
        f"not {target!r}"
    )


def check(target: OutputTarget) -> None:
    """A ``TypeError`` now (before a JVM starts) for a target ``forward`` would refuse."""
    if (
        target is None
        or isinstance(target, (logging.Logger, os.PathLike))
        or hasattr(target, "write")
    ):
        return
    if isinstance(target, str):
        return
    raise TypeError(
        "output must be 'python', 'logging', a logging.Logger, a path, a file or None, "
        f"not {target!r}"
    )
