"""The command line's console: progress and messages on stderr, the command's start, signals.

:class:`Console` shows a one-line progress bar on a terminal and one line per stage
elsewhere; :class:`Interrupts` turns SIGINT and SIGTERM into a clean exit (code 130,
no partial output); :data:`STARTED` is when the command line was imported, so that the run
time the command prints is its whole wall time (heavy imports included). :mod:`linkrisk.cli` uses them.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


# When the command started, on the ``time.perf_counter()`` clock: when the console script
# imported the command line, before any heavy import (those happen inside the command and
# are counted). Not the process's start time from /proc: a shell that runs
# ``a && linkrisk run ...`` may exec linkrisk in its own process, whose start time is then
# the shell's, and the printed run time would include ``a`` (a fresh install's 50 s).
STARTED = time.perf_counter()


class Console:
    """Terminal output on stderr: a one-line progress display on a terminal; elsewhere (a
    log file, CI, a pipe) one line per stage, so that a long run is never silent.

    ``t0`` is when the command started (``time.perf_counter()``): the elapsed times shown
    and :attr:`elapsed` count from it, so the run time printed is the wall time of the
    whole command, reports included.
    """

    def __init__(self, quiet: bool = False, stream=None, t0: float | None = None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = (not quiet) and self.stream.isatty() and os.environ.get("TERM") != "dumb"
        self._t0 = time.perf_counter() if t0 is None else t0
        self._open = False
        self._last: tuple | None = None

    @property
    def elapsed(self) -> float:
        """Seconds since the command started."""
        return time.perf_counter() - self._t0

    def progress(self, message: str, done: int | None = None, total: int | None = None) -> None:
        # every step checks for a signal that a library swallowed (see Interrupts.check)
        Interrupts.check()
        if self.quiet:
            return
        elapsed = self.elapsed
        if not self.live:
            # one line per stage: a new step (done advanced) or, without steps, a new message;
            # notes within a step (EM iterations, blocks) would flood a log
            key = (done, total) if done is not None else (message,)
            if key != self._last:
                self._last = key
                step = f"[{done}/{total}] " if done is not None and total else ""
                print(f"{step}{elapsed:6.1f}s  {message}", file=self.stream, flush=True)
            return
        bar = ""
        if done is not None and total:
            width = 24
            filled = int(width * done / total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
        self.stream.write(f"\r\033[K{bar}{elapsed:6.1f}s  {message[:60]}")
        self.stream.flush()
        self._open = True

    def done(self) -> None:
        if self._open:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._open = False

    def info(self, message: str) -> None:
        if not self.quiet:
            self.done()
            print(message, file=self.stream)

    def error(self, message: str) -> None:
        self.done()
        print(f"linkrisk: error: {message}", file=self.stream)



class Interrupts:
    """SIGINT and SIGTERM raise KeyboardInterrupt while a command runs, so that every
    ``finally`` and ``except`` on the way out runs (engines close and remove their spill
    folders, staged outputs are discarded); the default SIGTERM would kill the process on
    the spot and leave them behind. A second signal during that clean-up is noted and
    ignored. ``name`` is the first signal received, None when there was none.

    A library may catch the KeyboardInterrupt and carry on: DuckDB turns it into an
    InterruptException, and a caller that falls back on any Exception would then go on
    with the run. :meth:`check`, called at every progress step and before the outputs are
    committed, raises it again, so that a signal always ends the command.
    """

    active: "Interrupts | None" = None  # the one installed, while a command runs

    def __init__(self):
        self.name: str | None = None
        self._old: dict = {}

    @classmethod
    def check(cls) -> None:
        """Raise KeyboardInterrupt when a signal arrived during this command."""
        if cls.active is not None and cls.active.name is not None:
            raise KeyboardInterrupt

    def _handler(self, signum, frame):
        if self.name is not None:
            return  # already on the way out: let the clean-up finish
        self.name = signal.Signals(signum).name
        raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(sig) is signal.SIG_IGN:
                    continue  # ignored by whoever started us (nohup, a background job): stay so
                self._old[sig] = signal.signal(sig, self._handler)
        Interrupts.active = self
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}
        if Interrupts.active is self:
            Interrupts.active = None
