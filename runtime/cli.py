"""The ``atrium`` command line: version, check-config, replay, sweep, run, journal."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args, get_type_hints

import msgspec

from atrium.config.loader import ConfigError, load_config
from atrium.config.runtime import RuntimeConfig
from atrium.config.schema import AtriumConfig
from atrium.runtime.clocks import SimClock
from atrium.runtime.cluster.auth import connect_options
from atrium.runtime.cluster.wiring import check_one_process, check_replay_roles, role_config
from atrium.runtime.errors import AtriumError, TopologyError, UsageError
from atrium.runtime.eventloop import run as run_loop
from atrium.runtime.eventloop import uvloop_available
from atrium.runtime.journal_cli import add_parser as add_journal_parser
from atrium.runtime.journal_cli import run as run_journal
from atrium.runtime.loading import load_object
from atrium.runtime.service import run_service
from atrium.runtime.topology import build_pipeline
from atrium.runtime.version import atrium_version

__all__ = ("main",)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_ROLE_HELP = "run only this role of [cluster.roles]; the others talk to it over NATS"
_LOG_LEVELS: tuple[str, ...] = get_args(get_type_hints(RuntimeConfig)["log_level"])
_EPILOG = """\
exit status:
  0  success
  1  runtime error: the run failed (an actor escalated, a feed could not be read, ...)
  2  usage or config error: bad arguments, or a config file that does not validate
"""


def _version_line() -> str:
    loop = "uvloop" if uvloop_available() else "asyncio"
    return f"atrium-trading {atrium_version()} (python {sys.version.split()[0]}, {loop})"


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in _LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(_LOG_LEVELS)} (any case), got {text!r}"
        )
    return level


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atrium",
        description="Actor-based asyncio trading runtime: replay recorded feeds or run live.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version_line())
    parser.add_argument(
        "--log-level",
        type=_log_level,
        default=None,
        metavar="LEVEL",
        help=f"override [runtime].log_level: {', '.join(_LOG_LEVELS)}",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("version", help="print the installed version")
    check = commands.add_parser(
        "check-config", help="validate a config file, its topology and its strategies' params"
    )
    check.add_argument("config", type=Path, metavar="FILE")
    _add_replay(commands)
    _add_sweep(commands)
    _add_run(commands)
    _add_cluster(commands)
    _add_data(commands)
    add_journal_parser(commands)
    return parser


def _add_replay(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser("replay", help="run the five actors over recorded feeds")
    replay.add_argument("--config", type=Path, required=True, metavar="FILE")
    replay.add_argument(
        "--feed",
        action="append",
        default=[],
        metavar="PATH[=SYMBOL]",
        help="feed file (CSV or journal.sqlite), with its symbol after '=' when the file "
        "name does not say it; repeat for several; default: the config's feeds",
    )
    replay.add_argument(
        "--symbol",
        action="append",
        default=[],
        metavar="SYMBOL",
        help="the symbol of the --feed in the same position (first --symbol: first --feed)",
    )
    replay.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output directory (default: [replay].out_dir)",
    )
    replay.add_argument(
        "--speed",
        type=float,
        default=None,
        metavar="X",
        help="0 = as fast as possible (default); X = X times recorded time",
    )
    replay.add_argument(
        "--record-market-data",
        action="store_true",
        help="copy the market data into the journal (in blocks) instead of referencing the "
        "files it came from, so the journal replays without them",
    )
    replay.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (shown only when stderr is a terminal)",
    )
    replay.add_argument("--role", default=None, metavar="NAME", help=_ROLE_HELP)


def _add_sweep(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sweep = commands.add_parser(
        "sweep", help="replay a config over a grid of values (or walk-forward windows)"
    )
    sweep.add_argument("--config", type=Path, required=True, metavar="FILE")
    sweep.add_argument("--grid", type=Path, required=True, metavar="GRID", help="GRID.toml")
    sweep.add_argument(
        "--out", type=Path, default=Path("sweep-out"), metavar="DIR", help="default: sweep-out"
    )
    sweep.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="local processes at once (default: the number of cores)",
    )
    sweep.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="run on Ray instead: ray://host:10001, or auto for the local cluster",
    )
    sweep.add_argument(
        "--ship-feeds",
        action="store_true",
        help="with --address: send each feed file to every node once, for nodes that do not "
        "share its path",
    )
    sweep.add_argument("--no-progress", action="store_true", help="one log line per point")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="run the long-running service (live or paper)")
    run.add_argument("--config", type=Path, required=True, metavar="FILE")
    run.add_argument("--role", default=None, metavar="NAME", help=_ROLE_HELP)
    run.add_argument("--host", default=None, help="override [service].host")
    run.add_argument("--port", type=_port, default=None, help="override [service].port")
    run.add_argument(
        "--new-session",
        action="store_true",
        help="start a new session on a journal file that exists but holds none (an empty file)",
    )


def _add_cluster(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = commands.add_parser("cluster", help="work with a cluster's JetStream stream")
    cluster_actions = cluster.add_subparsers(dest="cluster_command", required=True)
    record = cluster_actions.add_parser(
        "record", help="market data of the stream, from a start time, into a replayable journal"
    )
    record.add_argument("--config", type=Path, required=True, metavar="FILE")
    record.add_argument("--out", type=Path, required=True, metavar="FILE", help="new journal file")
    record.add_argument(
        "--start",
        type=_timestamp,
        default=None,
        metavar="TIME",
        help="ISO 8601 time to start from (UTC when no offset is given); default: the start",
    )
    record.add_argument(
        "--symbol", action="append", default=None, metavar="SYMBOL", help="only these; repeat"
    )


def _add_data(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = commands.add_parser("data", help="prepare market data files")
    actions = data.add_subparsers(dest="data_command", required=True)
    convert = actions.add_parser(
        "convert",
        help="CSV feeds into one Parquet (.parquet) or Arrow IPC (.arrow) file, parsed once",
    )
    convert.add_argument("inputs", nargs="+", metavar="CSV")
    convert.add_argument("--out", type=Path, required=True, metavar="FILE")
    convert.add_argument(
        "--symbol", action="append", default=[], metavar="SYMBOL", help="the i-th file's symbol"
    )
    convert.add_argument("--format", default="auto", help="CSV format, as a feed's format")
    convert.add_argument("--adjust", default="none", choices=("none", "splits", "splits_dividends"))
    convert.add_argument("--timezone", default="UTC", help="zone of naive timestamps")
    convert.add_argument("--on-error", default="fail", choices=("skip", "fail"))


def _convert(args: argparse.Namespace) -> int:
    # The converter reads CSV with the market data actor's own parsers, loaded by name:
    # the runtime does not import actors.
    convert = load_object("atrium.actors.market_data.convert:convert", key="data convert")
    rows, rejected = convert(
        args.inputs,
        args.out,
        symbols=args.symbol,
        fmt=args.format,
        adjust=args.adjust,
        timezone=args.timezone,
        on_error=args.on_error,
    )
    skipped = f"; {sum(rejected.values())} rows skipped {rejected}" if rejected else ""
    print(f"wrote {rows:,} rows to {args.out}{skipped}")
    return EXIT_OK


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``atrium`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (UsageError, ConfigError, TopologyError) as exc:
        print(f"atrium: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AtriumError as exc:
        print(f"atrium: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_FAILED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "version":
        print(_version_line())
        return EXIT_OK
    if args.command == "journal":
        return run_journal(args)
    if args.command == "data":
        return _convert(args)
    if args.command == "sweep":
        return _sweep(args)
    config = load_config(args.config)
    _configure_logging(args.log_level or config.runtime.log_level)
    if args.command == "check-config":
        return _check_config(config, args.config)
    sections: dict[str, Any] | None = None
    if getattr(args, "role", None) is not None:
        if args.command == "replay":
            check_replay_roles(config)
        config, wiring = role_config(config, args.role, replay=args.command == "replay")
        connect_options(config.cluster)  # an unset secret is a config error, before start
        sections = {"cluster": wiring}
    elif args.command in ("run", "replay"):
        check_one_process(config)
    if args.command == "replay":
        return _replay(config, args, sections)
    if args.command == "cluster":
        return _record(config, args)
    if args.command == "run":
        config = _with_service_overrides(config, args.host, args.port)
        run_loop(
            lambda: run_service(config, sections=sections, new_session=args.new_session),
            use_uvloop=config.runtime.use_uvloop,
        )
        return EXIT_OK
    raise AssertionError(args.command)  # argparse rejects unknown commands


def _with_service_overrides(
    config: AtriumConfig, host: str | None, port: int | None
) -> AtriumConfig:
    changes: dict[str, Any] = {}
    if host is not None:
        changes["host"] = host
    if port is not None:
        changes["port"] = port
    if not changes:
        return config
    return msgspec.structs.replace(
        config, service=msgspec.structs.replace(config.service, **changes)
    )


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _check_config(config: AtriumConfig, path: Path) -> int:
    pipeline = build_pipeline(config, clock=SimClock(), mode="replay")
    for slot in pipeline.slots.values():
        # Construction is where an actor checks its section (the strategy actor imports
        # each strategy and validates its params), so this fails where a run would.
        slot.cls(slot.context)
    for role in config.cluster.roles:
        role_config(config, role)  # raises naming the key when the roles do not fit
    actors = ", ".join(pipeline.slots)
    strategies = ", ".join(config.strategies) or "none"
    roles = f"; roles: {', '.join(config.cluster.roles)}" if config.cluster.roles else ""
    print(f"{path}: ok (actors: {actors}; strategies: {strategies}{roles})")
    return EXIT_OK


def _record(config: AtriumConfig, args: argparse.Namespace) -> int:
    from atrium.runtime.cluster.record import record_stream  # noqa: PLC0415 -- only this command

    if args.out.exists():
        raise AtriumError(f"--out {args.out}: exists; a journal is never overwritten")
    written = run_loop(
        lambda: record_stream(config, args.out, start=args.start, symbols=args.symbol),
        use_uvloop=config.runtime.use_uvloop,
    )
    print(f"wrote {written} market data events to {args.out} (replay it with --feed)")
    return EXIT_OK


def _replay(config: AtriumConfig, args: argparse.Namespace, sections: dict[str, Any] | None) -> int:
    from atrium.runtime.replay import ReplayOptions, format_summary, run_replay  # noqa: PLC0415 -- only this command

    out_dir = args.out if args.out is not None else Path(config.replay.out_dir)
    options = ReplayOptions(
        out_dir=out_dir,
        feeds=tuple(args.feed),
        symbols=tuple(args.symbol),
        speed=args.speed,
        progress=not args.no_progress and sys.stderr.isatty(),
        sections=sections,
        record_market_data=args.record_market_data,
    )
    summary = run_loop(lambda: run_replay(config, options), use_uvloop=config.runtime.use_uvloop)
    print(format_summary(summary, out_dir))
    if options.progress:
        print(f"report: {(out_dir / 'report.html').resolve()}", file=sys.stderr)
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    from atrium.runtime.sweep.run import SweepOptions, run_sweep  # noqa: PLC0415 -- only this command

    _configure_logging(args.log_level or "WARNING")
    options = SweepOptions(
        config=args.config,
        grid=args.grid,
        out_dir=args.out,
        workers=args.workers,
        address=args.address,
        ship_feeds=args.ship_feeds,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    report = run_sweep(options)
    print(f"sweep: {report['points']} points, {report['failed']} failed; wrote {args.out}")
    best = report.get("best")
    if best:
        print(f"best: {best['point']} {best['params']}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
