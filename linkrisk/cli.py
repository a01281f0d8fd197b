"""The ``linkrisk`` command line.

Exit codes
----------
0  success
1  an unexpected error (a bug: please report it, with ``--debug`` output)
2  the study, or an output path, is not valid (every problem is listed)
3  an input file cannot be read, or the inputs do not fit in memory
4  an optional dependency is missing
130  interrupted (Ctrl-C or SIGTERM); no partial output and no spill files are left behind
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from linkrisk.cli_console import STARTED, Console, Interrupts

EXIT_OK, EXIT_BUG, EXIT_STUDY, EXIT_INPUT, EXIT_DEPENDENCY, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_PIPE = 141  # what a shell reports for a tool ended by SIGPIPE


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="linkrisk",
        description="Measure how much joining leaked datasets enriches profiles, and how much "
                    "pseudonymisation would prevent.",
        epilog="Exit codes: 0 ok, 1 bug, 2 invalid study or output path, 3 unreadable input, 4 missing dependency, "
               "130 interrupted.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print nothing but errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, **kw):
        return sub.add_parser(name, parents=[common], **kw)

    r = add("run", help="run a study and write reports")
    r.add_argument("study", type=Path, help="the study file (TOML)")
    r.add_argument("--out", type=Path, help="report file: .html, .md or .json")
    r.add_argument("--json", type=Path, help="also write the JSON report here")
    r.add_argument("--export", type=Path, metavar="DIR",
                   help="write DIR/entities-<scenario>.csv (dataset,record_id,entity_id)")
    r.add_argument("--show-values", action="store_true",
                   help="show raw identifier values in reports (they are redacted by default)")
    r.add_argument("--strict", action="store_true",
                   help="data-quality warnings are errors: exit 2 and write no report")
    r.add_argument("--engine", choices=["duckdb", "spark"], help="override the study's engine")
    r.add_argument("--memory-limit", metavar="SIZE",
                   help="DuckDB's memory limit, such as 4GB (work beyond it spills to a temporary folder)")

    v = add("validate", help="list every problem in a study and its files")
    v.add_argument("study", type=Path)
    v.add_argument("--strict", action="store_true", help="data-quality warnings are errors (exit 2)")

    s = add("synth", help="write synthetic breaches, a truth file and a study.toml")
    s.add_argument("--people", type=int, default=5000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, default=Path("synthetic"))
    s.add_argument("--format", choices=["csv", "parquet"], default="csv")
    s.add_argument("--traces", action="store_true",
                   help="also write 24-hour tracks (camera sightings, transit taps) and their study to OUT/traces")
    s.add_argument("--faces", action="store_true",
                   help="also simulated face templates in surveillance and telecom, the faces linker and face "
                        "scenarios (docs/faces.md); the committed sample has them")

    pr = add("profile", help="suggest a kind for each column of a table")
    pr.add_argument("file", type=Path)
    pr.add_argument("--delimiter", help="CSV delimiter (detected when not given)")
    pr.add_argument("--encoding", default="utf-8", help="CSV text encoding, such as gb18030 or latin-1 "
                    "(default utf-8)")
    pr.add_argument("--toml", action="store_true",
                    help="print a [[datasets]] table to paste into a study file (name, path, record_id, columns)")

    i = add("info", help="versions of linkrisk and its engines; the kind catalogue")
    i.add_argument("--kinds", action="store_true", help="list the kind catalogue")
    return p


def _cmd_run(args, console: Console) -> int:
    import linkrisk as lr

    from linkrisk.outputs import Staging, plan_outputs
    from linkrisk.validate import config_problems

    study = lr.Study.from_toml(args.study)
    if args.engine:
        study.engine = args.engine
    if args.memory_limit:
        study.duckdb["memory_limit"] = args.memory_limit
    # the settings (scenario names become file names) and then every output path are
    # checked before any work: a bad path fails in a second, not after the run
    problems = list(study.parse_problems) + config_problems(study)
    if problems:
        # the same list as `linkrisk validate`: the files are checked too, so that one
        # attempt names every problem (the run would stop at the first it met)
        raise lr.StudyError(study.validate(), str(args.study))
    plan = plan_outputs(study, out=args.out, json=args.json, export=args.export)
    from linkrisk.pipeline import run_study

    result = run_study(study, progress=console.progress, show_values=args.show_values)
    console.done()
    with result, Staging() as staged:
        _warn(console, result.extra.get("warnings", []), args)
        from linkrisk.messages import plain

        for path, fmt in plan.reports:
            # rendering the HTML report (figures, the entity explorer) takes seconds: say so
            console.progress(f"writing the {fmt.upper()} report {plain(path.name, 60)}")
            result.write(staged.file(path), show_values=args.show_values, format=fmt)
        if plan.export is not None:
            console.progress(f"exporting entities to {plain(plan.export.name, 60)}")
            result.export_entities_to(staged.directory(plan.export))
        Interrupts.check()  # never commit the outputs of an interrupted run
        written = staged.commit()
        console.done()
        if not args.quiet:
            from linkrisk.report import terminal_summary

            # the wall time of the whole command: reading the study, the run and the reports
            print(terminal_summary(result, console.elapsed))
            for w in written:
                print(f"wrote {plain(w, 400)}")
    return EXIT_OK


def _cmd_validate(args, console: Console) -> int:
    import linkrisk as lr

    study = lr.Study.from_toml(args.study)
    warnings: list = []
    problems = study.validate(warnings=warnings)
    if problems:
        raise lr.StudyError(problems, str(args.study))
    _warn(console, warnings, args)
    n = sum(1 for _ in study.datasets)
    console.info(f"{args.study}: valid ({n} datasets, {len(study.scenarios)} scenarios)")
    return EXIT_OK


def _warn(console: Console, warnings: list[dict], args) -> None:
    """Print data-quality warnings (even under --quiet); under --strict they fail the command."""
    from linkrisk.errors import Problem, StudyError

    if args.strict and warnings:
        raise StudyError([Problem("warning (--strict)", w["message"]) for w in warnings], str(args.study))
    for w in warnings:
        console.done()
        print(f"linkrisk: warning: {w['message']}", file=console.stream)


MIN_SYNTH_PEOPLE = 10  # below this a dataset can get no record, and the study written would not be valid


def _cmd_synth(args, console: Console) -> int:
    from linkrisk import synth
    from linkrisk.errors import Problem, StudyError

    if args.people < MIN_SYNTH_PEOPLE:
        raise StudyError(Problem("--people", f"must be at least {MIN_SYNTH_PEOPLE}: with fewer people a "
                                 "dataset can be left without records, and linkrisk would reject the "
                                 "study written"))

    t0 = time.perf_counter()
    path = synth.generate(args.people, seed=args.seed, out=args.out, fmt=args.format,
                          progress=console.progress, faces=args.faces)
    console.info(f"wrote {args.people:,} people's breaches to {args.out} in {time.perf_counter() - t0:.1f}s; "
                 f"study: {path}")
    if args.traces:
        from linkrisk.synth_traces import generate_traces

        tpath = generate_traces(args.people, seed=args.seed, out=args.out / "traces")
        console.info(f"wrote {args.people:,} people's 24-hour tracks; study: {tpath}")
    return EXIT_OK


def _cmd_profile(args, console: Console) -> int:
    from linkrisk.messages import plain
    from linkrisk.profile import dataset_toml, profile_file

    prof = profile_file(args.file, delimiter=args.delimiter, encoding=args.encoding)
    if args.toml:
        print(dataset_toml(prof, args.file, delimiter=args.delimiter, encoding=args.encoding), end="")
    else:
        shown = prof.drop(columns="warning").assign(
            filled=(prof["filled"] * 100).round(1).astype(str) + "%",
            distinct=(prof["distinct"] * 100).round(1).astype(str) + "%")
        print(shown.fillna("-").to_string(index=False))
    for r in prof.itertuples(index=False):
        if r.warning:  # column names only (a withheld header is named by its position), never a value
            console.done()
            print(f"linkrisk: warning: column {plain(r.column)}: {r.warning}", file=console.stream)
    return EXIT_OK


def _cmd_info(args, console: Console) -> int:
    if args.kinds:
        from linkrisk.catalogue import Catalogue

        print(Catalogue().to_frame().to_string(index=False))
        return EXIT_OK
    import importlib.metadata as md
    import importlib.util

    from linkrisk.version import VERSION

    def version(package: str) -> str:
        # the installed distribution's version: importing a package only to print its
        # version would load pandas, scipy and Splink for a one-screen answer
        try:
            return md.version(package)
        except md.PackageNotFoundError:
            return "not installed"

    spark = "installed" if importlib.util.find_spec("pyspark") else "not installed (pip install 'linkrisk[spark]')"
    print(f"linkrisk {VERSION}\n"
          f"python {sys.version.split()[0]}\n"
          f"duckdb {version('duckdb')} (default engine)\n"
          f"splink {version('splink')}\n"
          f"recordlinkage {version('recordlinkage')}\n"
          f"pandas {version('pandas')}, scipy {version('scipy')}, networkx {version('networkx')}\n"
          f"pyspark: {spark}")
    return EXIT_OK


COMMANDS = {"run": _cmd_run, "validate": _cmd_validate, "synth": _cmd_synth,
            "profile": _cmd_profile, "info": _cmd_info}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``linkrisk`` console script."""
    # the console script's own process: count from its start; a caller's (tests, a notebook):
    # from this call
    t0 = STARTED if argv is None else time.perf_counter()
    interrupts = Interrupts()
    console = Console(quiet=True)
    args = None
    try:
        with interrupts:  # from the first line: a signal anywhere below exits 130
            parser = _parser()
            args = parser.parse_args(argv)
            if not args.command:
                parser.print_help()
                return EXIT_STUDY
            console = Console(quiet=args.quiet, t0=t0)
            return COMMANDS[args.command](args, console)
    except BaseException as exc:
        # DuckDB turns the KeyboardInterrupt raised inside a query into an error of its own
        # (and other libraries may too): a run that was interrupted ends as interrupted
        if isinstance(exc, KeyboardInterrupt) or (interrupts.name and not isinstance(exc, SystemExit)):
            if args is not None and args.debug and not isinstance(exc, KeyboardInterrupt):
                raise
            console.error(f"interrupted ({interrupts.name or 'SIGINT'}); no partial output was written "
                          "and temporary files were removed")
            return EXIT_INTERRUPTED
        return _failed(exc, args, console)


def _failed(exc: BaseException, args, console: Console) -> int:
    """The exit code (and message) of a command that raised ``exc``."""
    from linkrisk.errors import LinkriskError

    if isinstance(exc, SystemExit) or args is None:
        raise exc
    try:
        raise exc
    except LinkriskError as exc:
        if args.debug:
            raise
        console.error(str(exc))
        return exc.exit_code
    except BrokenPipeError:
        # the reader of standard output went away (`linkrisk info --kinds | head`): what it
        # read was complete; stop as Unix tools do, without a message and without Python's
        # own complaint when it flushes standard output at exit
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except MemoryError:
        if args.debug:
            raise
        console.error("ran out of memory; set a DuckDB memory limit or use a machine with more memory")
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001 - the last line of defence for people
        if args.debug:
            raise
        if type(exc).__name__ == "OutOfMemoryException":  # DuckDB's, beyond its memory limit
            console.error("ran out of memory: the inputs do not fit in DuckDB's memory limit even with "
                          "spilling to disk. Give it more (--memory-limit 8GB, or [duckdb] memory_limit), "
                          "free disk space in the temporary folder, or use fewer linkers or scenarios.")
            return EXIT_INPUT
        console.error(f"unexpected {type(exc).__name__}; this is a bug in linkrisk. Run the same "
                      "command again with --debug to see the traceback, and report it.")
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
