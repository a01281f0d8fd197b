"""Where a run may write, checked before it starts, and outputs that land all at once.

:func:`plan_outputs` resolves every output path the user named (``--out``, ``--json``,
``--export``) and refuses, before any work is done:

- a report suffix that does not say its format (``--out r.txt``), or ``--json`` to a
  file that is not ``.json``;
- an output that is, or resolves to, an input (a dataset, the truth file, the study
  file), or two outputs on one path;
- an existing folder where a file goes, an existing file (or device) where the export
  folder goes, a device or other special file where a report goes;
- a file name longer than the file system takes, or a folder that cannot be written
  (checked by creating and removing a probe file there).

:class:`Staging` then writes each output beside its final place (a hidden temporary file,
the export in a hidden temporary folder) and :meth:`Staging.commit` renames them all into
place with SIGINT and SIGTERM held back, so an interrupted run leaves no partial output.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from linkrisk.errors import Problem, StudyError
from linkrisk.messages import plain

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.study import StudyConfig

REPORT_SUFFIXES = {".json": "json", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
TEMP_NAME_EXTRA = 24  # characters the temporary name adds to a file name (".NAME.xxxxxxxx.tmp")


class OutputError(StudyError):
    """An output path cannot be used (exit code 2: nothing was run)."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        n = len(problems)
        self.args = ("\n".join([f"The output path{'s' if n != 1 else ''} cannot be used; nothing was run:"]
                               + [f"  - {p}" for p in problems]),)


@dataclass
class OutputPlan:
    """The checked, resolved outputs of a run."""

    reports: list[tuple[Path, str]] = field(default_factory=list)  # (path, format)
    export: Path | None = None
    export_files: list[Path] = field(default_factory=list)


def input_paths(study: "StudyConfig") -> list[Path]:
    """Every file a study reads: the study file, the datasets, the truth file."""
    paths = [study.source] if study.source else []
    paths += [d.path for d in study.datasets if d.path is not None]
    if study.truth is not None and not hasattr(study.truth, "columns"):
        paths.append(Path(study.truth))
    return [Path(p) for p in paths]


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:
        return False


def _writable_problem(path: Path, what: str) -> str | None:
    """Why ``path`` (a file or folder to create or replace) cannot be written, or None."""
    if len(path.name.encode("utf-8", "surrogateescape")) + TEMP_NAME_EXTRA > 255:
        return (f"the {what} name is {len(path.name):,} characters long; file systems take 255 bytes "
                "(linkrisk writes through a temporary name a little longer): use a shorter name")
    if any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in path.parts):
        return "a folder name in the path is longer than file systems take (255 bytes)"
    ancestor = path.parent
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{plain(ancestor, 300)} is not a folder"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"the folder {plain(ancestor, 300)} cannot be written (permission denied)"
    if ancestor == path.parent:
        try:  # the real test: /proc, read-only mounts and full quotas pass os.access
            fd, probe = tempfile.mkstemp(prefix=".linkrisk-probe-", dir=ancestor)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            return f"the folder {plain(ancestor, 300)} cannot be written ({exc.strerror or 'error'})"
    return None


def plan_outputs(study: "StudyConfig", out: Path | None = None, json: Path | None = None,
                 export: Path | None = None) -> OutputPlan:
    """Check every output path of a run before it starts.

    Parameters
    ----------
    study : Study
        Its input files (study file, datasets, truth) may not be overwritten.
    out, json : path, optional
        Report files: ``out`` in the format its suffix names, ``json`` in JSON.
    export : path, optional
        The folder for ``entities-<scenario>.csv``, one per scenario and the baseline.

    Returns
    -------
    OutputPlan

    Raises
    ------
    OutputError
        Listing every output that cannot be used (exit code 2).
    """
    problems: list[Problem] = []
    plan = OutputPlan()
    inputs = [p.resolve() for p in input_paths(study)]
    taken: list[tuple[Path, str]] = []

    def too_long(path: Path, option: str) -> bool:
        # first: a name too long makes every file-system call below fail
        if len(Path(path).name.encode("utf-8", "surrogateescape")) + TEMP_NAME_EXTRA > 255:
            problems.append(Problem(f"{option} {plain(path, 80)}", _writable_problem(Path(path), "file")))
            return True
        return False

    def check_file(path: Path, option: str) -> None:
        if too_long(path, option):
            return
        real = path.resolve()
        shown = f"{option} {plain(path, 300)}"
        for i in inputs:
            if _same(real, i):
                problems.append(Problem(shown, "is an input of the study; linkrisk never overwrites an input: "
                                        "choose another name"))
                return
        for other, by in taken:
            if real == other:
                problems.append(Problem(shown, f"is also the path of {by}; give each output its own name"))
                return
        if real.exists() and real.is_dir():
            problems.append(Problem(shown, "is a folder; give a file name"))
            return
        if real.exists() and not real.is_file():
            problems.append(Problem(shown, "is not a regular file (a device or pipe); give a file name"))
            return
        bad = _writable_problem(real, "file")
        if bad:
            problems.append(Problem(shown, bad))
            return
        taken.append((real, option))

    if out is not None:
        fmt = REPORT_SUFFIXES.get(Path(out).suffix.lower())
        if fmt is None:
            problems.append(Problem(f"--out {plain(out, 300)}", "has no report suffix: use .html, .md or .json "
                                    "(the suffix chooses the format)"))
        else:
            check_file(Path(out), "--out")
            plan.reports.append((Path(out).resolve(), fmt))
    if json is not None:
        if Path(json).suffix.lower() != ".json":
            problems.append(Problem(f"--json {plain(json, 300)}", "must end in .json (it is written as JSON)"))
        else:
            check_file(Path(json), "--json")
            plan.reports.append((Path(json).resolve(), "json"))
    if export is not None and not too_long(Path(export), "--export"):
        real = Path(export).resolve()
        shown = f"--export {plain(export, 300)}"
        if real.exists() and not real.is_dir():
            problems.append(Problem(shown, "is a file, not a folder; give a folder (it is created if missing)"))
        elif any(_same(real, i) for i in inputs):
            problems.append(Problem(shown, "is an input of the study"))
        else:
            bad = _writable_problem(real, "folder") if not real.exists() else (
                None if os.access(real, os.W_OK | os.X_OK) else "cannot be written (permission denied)")
            if bad:
                problems.append(Problem(shown, bad))
            names = ["baseline"] + [s.name for s in study.scenarios]
            for n in names:
                f = (real / f"entities-{n}.csv").resolve()
                if f.parent != real:  # names are checked at validate time; never write elsewhere
                    problems.append(Problem(shown, f"scenario {plain(repr(n))} would write outside the folder"))
                    continue
                if any(_same(f, i) for i in inputs):
                    problems.append(Problem(shown, f"would overwrite the input {plain(f, 300)} "
                                            "(entities-<scenario>.csv): choose another folder"))
                for other, by in taken:
                    if f == other:
                        problems.append(Problem(shown, f"would overwrite {by} {plain(f, 300)}"))
                if f.exists() and f.is_dir():
                    problems.append(Problem(shown, f"holds a folder named {f.name}"))
                plan.export_files.append(f)
            plan.export = real
    if problems:
        raise OutputError(problems)
    return plan


class Staging:
    """Outputs written beside their final places, renamed into place together.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with Staging() as st:
    ...     _ = pathlib.Path(st.file(d / "r.json")).write_text("{}")
    ...     _ = st.commit()
    >>> sorted(p.name for p in d.iterdir())
    ['r.json']
    """

    def __init__(self):
        self._files: list[tuple[str, Path]] = []
        self._dirs: list[tuple[str, Path]] = []
        self._made: list[Path] = []
        self.committed: list[Path] = []

    def _parent(self, path: Path) -> None:
        missing = []
        p = path.parent
        while not p.exists():
            missing.append(p)
            p = p.parent
        path.parent.mkdir(parents=True, exist_ok=True)
        self._made += reversed(missing)

    def file(self, path: Path) -> str:
        """A temporary file beside ``path`` to write; it becomes ``path`` on :meth:`commit`."""
        path = Path(path)
        self._parent(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        self._files.append((tmp, path))
        return tmp

    def directory(self, path: Path) -> Path:
        """A temporary folder to fill; on :meth:`commit` its files go into ``path`` (the
        folder itself is renamed into place when ``path`` does not exist yet)."""
        path = Path(path)
        if path.is_dir():
            tmp = tempfile.mkdtemp(prefix=".linkrisk-export-", dir=path)
        else:
            self._parent(path)
            tmp = tempfile.mkdtemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=path.parent)
        self._dirs.append((tmp, path))
        return Path(tmp)

    def commit(self) -> list[Path]:
        """Rename every staged output into place, with SIGINT and SIGTERM held back until
        all are there (the renames take milliseconds)."""
        umask = os.umask(0)
        os.umask(umask)
        blocked = {signal.SIGINT, signal.SIGTERM}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            for tmp, path in self._files:
                os.chmod(tmp, 0o666 & ~umask)
                os.replace(tmp, path)
                self.committed.append(path)
            for tmp, path in self._dirs:
                if path.is_dir():
                    for f in sorted(Path(tmp).iterdir()):
                        os.replace(f, path / f.name)
                        self.committed.append(path / f.name)
                    os.rmdir(tmp)
                else:
                    os.chmod(tmp, 0o777 & ~umask)
                    os.rename(tmp, path)
                    self.committed += sorted(path.iterdir())
            self._files, self._dirs, self._made = [], [], []
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return self.committed

    def discard(self) -> None:
        """Remove whatever was staged (and the folders made for it)."""
        for tmp, _ in self._files:
            if os.path.exists(tmp):
                os.unlink(tmp)
        for tmp, _ in self._dirs:
            shutil.rmtree(tmp, ignore_errors=True)
        for d in reversed(self._made):
            try:
                d.rmdir()
            except OSError:
                pass
        self._files, self._dirs, self._made = [], [], []

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()  # after a commit there is nothing left to discard


__all__ = ["OutputError", "OutputPlan", "plan_outputs", "Staging", "input_paths", "REPORT_SUFFIXES"]
