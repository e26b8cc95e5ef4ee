"""Roles turned into one process's config: what it runs, consumes and sends on."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from atrium.config import parse_config
from atrium.config.loader import ConfigError, load_config
from atrium.config.schema import AtriumConfig
from atrium.runtime.cli import main
from atrium.runtime.cluster.driven import rank_by_strategy
from atrium.runtime.cluster.plain import PlainMarket, PlainRecord, unpack
from atrium.runtime.cluster.subjects import SubjectMap, token
from atrium.runtime.cluster.wiring import BRIDGE, check_replay_roles, role_config
from atrium.runtime.codec import encode
from atrium.runtime.messages import Bar, Fill, OrderIntent, PortfolioSnapshot, Tick

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "cluster-example.toml"

_STRATEGIES = """
[strategies.a]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["NVDA", "BRK.B"]
[strategies.b]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["ORCL"]
"""


def _config(roles: str) -> AtriumConfig:
    return parse_config(tomllib.loads(_STRATEGIES + '[cluster]\nnamespace = "t"\n' + roles))


_FOUR = """
[cluster.roles.md]
actors = ["market_data"]
[cluster.roles.sa]
actors = ["strategy"]
strategies = ["a"]
[cluster.roles.sb]
actors = ["strategy"]
strategies = ["b"]
[cluster.roles.core]
actors = ["portfolio", "risk", "execution"]
port = 9104
"""


def test_a_strategy_role_consumes_only_its_symbols_and_its_own_order_flow() -> None:
    config, wiring = role_config(_config(_FOUR), "sa")
    assert list(config.topology.actors) == ["strategy", BRIDGE]
    assert list(config.strategies) == ["a"]
    # Market data as the venue's role passes it on, after the fills it caused.
    assert wiring.imports == (
        "t.fill.a",
        "t.mdv.BRK%2EB",
        "t.mdv.NVDA",
        "t.order_denied.a",
        "t.order_update.a",
        "t.position_update.a",
    )
    assert not wiring.driver
    assert wiring.durable == "t-sa" and wiring.stream == "T"
    # Intents leave (the portfolio wants them); nothing it consumes goes back out.
    assert "OrderIntent" in config.topology.actors[BRIDGE].subscribes
    assert config.journal.path == "sa-atrium-journal.sqlite"


def test_the_core_role_consumes_all_market_data_and_every_intent() -> None:
    config, wiring = role_config(_config(_FOUR), "core")
    assert "t.md.*" in wiring.imports and "t.intent.*" in wiring.imports
    assert wiring.passes_market_data_on
    assert config.service.port == 9104
    assert set(config.topology.actors[BRIDGE].subscribes) >= {"Fill", "OrderUpdate"}
    # Every role that consumes is waited for by the replay barrier.
    assert wiring.consumers == ("t-core", "t-sa", "t-sb")


def test_the_market_data_role_drives_and_consumes_nothing() -> None:
    _, wiring = role_config(_config(_FOUR), "md")
    assert wiring.driver and wiring.imports == ()


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ('[cluster.roles.y]\nactors = ["strategy"]', "--role 'x': no such role in"),
        ('[cluster.roles.x]\nactors = ["nope"]', "cluster.roles.x.actors: unknown actor 'nope'"),
        ('[cluster.roles.x]\nactors = ["market_data"]', "no role runs strategy, portfolio"),
        (
            '[cluster.roles.x]\nactors = ["market_data", "strategy", "portfolio", "risk", '
            '"execution"]\n[cluster.roles.y]\nactors = ["portfolio"]',
            "cluster.roles: risk is in roles x; with several cores (the portfolio runs in "
            "x, y, one per account) each core runs portfolio, risk, execution and no other "
            "role does",
        ),
        (
            '[cluster.roles.x]\nactors = ["market_data", "strategy", "portfolio", "risk", '
            '"execution"]\n[cluster.roles.y]\nactors = ["strategy"]\nstrategies = ["a"]',
            "cluster.roles.x.strategies: the strategy actor runs in several roles",
        ),
        (
            '[cluster.roles.x]\nactors = ["market_data", "portfolio", "risk", "execution"]\n'
            'strategies = ["a"]\n[cluster.roles.y]\nactors = ["strategy"]',
            "cluster.roles.x.strategies: this role runs no strategy actor",
        ),
        (
            '[cluster.roles.x]\nactors = ["market_data", "strategy", "portfolio", "risk", '
            '"execution"]\nstrategies = ["a", "zz"]',
            "unknown strategy 'zz'",
        ),
        (
            '[cluster.roles.x]\nactors = ["market_data", "strategy", "portfolio", "risk", '
            '"execution"]\nstrategies = ["a"]\n[cluster.roles.y]\nactors = ["strategy"]\n'
            'strategies = ["a"]',
            "'a' is already hosted by role 'x'",
        ),
        (
            '[cluster.roles.x]\nactors = ["market_data", "strategy", "portfolio", "risk", '
            '"execution"]\nstrategies = ["a"]',
            "no role hosts strategy b",
        ),
    ],
)
def test_roles_that_do_not_fit_the_topology_are_named(roles: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        role_config(_config(roles), "x")


def test_a_config_without_roles_cannot_run_a_role() -> None:
    with pytest.raises(ConfigError, match=r"--role: the config has no \[cluster.roles\]"):
        role_config(parse_config({}), "core")


def test_a_bad_role_name_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"cluster\.roles"):
        parse_config(tomllib.loads('[cluster.roles."a.b"]\nactors = ["strategy"]'))


def test_the_example_cluster_config_wires_every_role() -> None:
    config = load_config(EXAMPLE)
    ports = {role: role_config(config, role)[0].service.port for role in config.cluster.roles}
    assert ports == {"market-data": 8001, "strategies-a": 8002, "strategies-b": 8003, "core": 8004}


def test_a_role_listens_on_its_own_host_and_port_for_a_remote_prometheus() -> None:
    roles = _FOUR.replace("port = 9104", 'port = 9104\nhost = "0.0.0.0"')
    core, _ = role_config(_config(roles), "core")
    md, _ = role_config(_config(roles), "md")
    assert (core.service.host, core.service.port) == ("0.0.0.0", 9104)
    assert (md.service.host, md.service.port) == ("127.0.0.1", 8000)


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        (
            'user = "atrium"',
            "cluster.user: a user and a password go together (user, password_env)",
        ),
        (
            'password_env = "NATS_PASSWORD"',
            "cluster.password_env: a user and a password go together (user, password_env)",
        ),
        (
            'user = "u"\npassword_env = "P"\nnkey_seed_env = "SEED"',
            "cluster.nkey_seed_env: give one way to authenticate, not password_env and "
            "nkey_seed_env",
        ),
        (
            'password_env = "s3cret!"\nuser = "u"',
            "cluster.password_env: expected a string matching regex",
        ),
        (
            'tls = { key_file = "client-key.pem" }',
            "cluster.tls.key_file: a client certificate needs both cert_file and key_file",
        ),
        (
            'url = "nats://atrium:s3cret@nats.example.internal:4222"',
            "cluster.url: holds a password, which a config never does; give user and "
            "password_env (the variable holding it)",
        ),
        (
            "max_market_data_age_seconds = 0",
            "cluster.max_market_data_age_seconds: expected a number > 0, got 0",
        ),
    ],
)
def test_credentials_and_tls_settings_that_do_not_fit_are_named(cluster: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        parse_config(tomllib.loads(f"[cluster]\n{cluster}\n"))


def test_subjects_key_market_data_by_symbol_and_order_flow_by_strategy() -> None:
    subjects = SubjectMap("atrium")
    bar = Bar(
        ts=1, symbol="BRK.B", open=Decimal(1), high=Decimal(1), low=Decimal(1), close=Decimal(1)
    )
    assert subjects.subject(bar) == "atrium.md.BRK%2EB"
    assert subjects.filters([Fill], strategies=["x y"]) == ["atrium.fill.x%20y"]
    assert subjects.filters([OrderIntent, PortfolioSnapshot]) == [
        "atrium.intent.*",
        "atrium.portfolio_snapshot",
    ]
    assert token("ES>*") == "ES%3E%2A"


def test_live_market_data_on_plain_subjects_leaves_the_stream_to_the_order_flow() -> None:
    _, wiring = role_config(_config(_FOUR), "sa")
    live = wiring.live_subjects()
    # Straight from the source, per symbol; the consumer keeps only the order flow.
    assert live.market == ("t.md.BRK%2EB", "t.md.NVDA")
    assert live.imports == (
        "t.fill.a",
        "t.order_denied.a",
        "t.order_update.a",
        "t.position_update.a",
    )
    _, core = role_config(_config(_FOUR), "core")
    core = core.live_subjects()
    assert core.market == ("t.md.*",) and not core.passes_market_data_on
    assert "t.intent.*" in core.imports and "t.md.*" not in core.imports
    # The stream holds no market data subject as the source sends it, but the batches
    # a core keeps, and the replay's markers.
    assert wiring.stream_subjects == ["t.>"]
    assert "t.md.*" not in live.stream_subjects and "t.mdv.*" not in live.stream_subjects
    assert {"t.intent.*", "t.fill.*", "t.control", "t.end", "t.held", "t.marks.*"} <= set(
        live.stream_subjects
    )
    # The core takes back the market data it kept; a strategy role keeps none.
    assert core.keeps_marks and "t.marks.core" in core.imports
    assert not live.keeps_marks and not [s for s in live.imports if ".marks." in s]


def test_a_role_of_strategies_and_the_core_keeps_the_market_data_it_takes() -> None:
    """Its strategies then see the ticks as its portfolio does: from the kept batches."""
    roles = '[cluster.roles.md]\nactors = ["market_data"]\n'
    roles += '[cluster.roles.rest]\nactors = ["strategy", "portfolio", "risk", "execution"]\n'
    _, rest = role_config(_config(roles), "rest")
    live = rest.live_subjects()
    assert live.keeps_marks and live.market == ("t.md.*",)
    assert "t.marks.rest" in live.imports
    assert not [s for s in live.imports if s.startswith(("t.md.", "t.mdv."))]
    _, md = role_config(_config(roles), "md")
    assert not md.live_subjects().keeps_marks  # it consumes nothing


def test_a_gap_in_a_plain_subject_is_counted_by_its_sequence() -> None:
    market = PlainMarket("here")
    tick = Tick(ts=1, symbol="A", price=Decimal(1), size=Decimal(1))
    gap = lambda subject, run, seq: market.gap(subject, PlainRecord(run, seq, tick))  # noqa: E731
    assert gap("t.md.A", "run1", 1) == 0
    assert gap("t.md.A", "run1", 2) == 0
    assert gap("t.md.A", "run1", 6) == 3  # 3, 4 and 5 lost
    assert gap("t.md.B", "run1", 9) == 0  # per subject: B's first
    assert gap("t.md.A", "run2", 1) == 0  # a restarted source numbers anew
    assert gap("t.md.A", "run2", 3) == 1
    assert gap("t.md.A", "run2", 3) == 0  # a repeat is no gap


def test_plain_market_data_is_numbered_per_subject_in_its_envelope() -> None:
    source = PlainMarket("run7")
    tick = lambda symbol, ts: Tick(  # noqa: E731
        ts=ts, symbol=symbol, price=Decimal("101.25"), size=Decimal(3)
    )
    sent = [
        ("t.md.A", source.pack("t.md.A", tick("A", 1))),
        ("t.md.B", source.pack("t.md.B", tick("B", 2))),
        ("t.md.A", source.pack("t.md.A", tick("A", 3))),
    ]
    records = [unpack(payload) for _, payload in sent]
    assert [(r.run, r.seq) for r in records] == [("run7", 1), ("run7", 1), ("run7", 2)]
    assert records[2].message == tick("A", 3)
    receiver = PlainMarket("there")
    source.pack("t.md.A", tick("A", 4))  # A's third, lost on the way
    later = unpack(source.pack("t.md.A", tick("A", 5)))
    seen = [receiver.gap(subject, r) for (subject, _), r in zip(sent, records, strict=True)]
    assert [*seen, receiver.gap("t.md.A", later)] == [0, 0, 0, 1]
    # A bare tick, as an earlier Atrium sent it (numbered in a header): read, no gap.
    assert unpack(encode(tick("A", 6))) == PlainRecord("", 0, tick("A", 6))
    assert receiver.gap("t.md.A", unpack(encode(tick("A", 6)))) == 0
    intent = OrderIntent(ts=4, intent_id="i-1", strategy="s", symbol="A", side="BUY")
    with pytest.raises(msgspec.DecodeError):  # an intent is no market data
        unpack(msgspec.msgpack.encode(["run7", 3, msgspec.msgpack.decode(encode(intent))]))
    with pytest.raises(msgspec.DecodeError):  # bare or not
        unpack(encode(intent))


def test_a_role_behind_the_source_keeps_every_bar_and_the_newest_tick_per_symbol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("atrium.runtime.cluster.plain.MARKET_BACKLOG", 4)
    market = PlainMarket("here")
    tick = lambda symbol, ts: Tick(ts=ts, symbol=symbol, price=Decimal(1), size=Decimal(1))  # noqa: E731
    bar = Bar(
        ts=2,
        symbol="A",
        open=Decimal(1),
        high=Decimal(1),
        low=Decimal(1),
        close=Decimal(1),
        volume=Decimal(1),
    )
    assert [market.take_in(s, m) for s, m in [("A", tick("A", 1)), ("A", bar)]] == [0, 0]
    assert [market.take_in(s, m) for s, m in [("B", tick("B", 3)), ("A", tick("A", 4))]] == [0, 0]
    assert market.take_in("A", tick("A", 5)) == 2  # A's ticks at 1 and 4 superseded
    assert [(s, m.ts) for s, m in market.inbox] == [("A", 2), ("B", 3), ("A", 5)]


_FEEDS = """
[[market_data.feeds]]
name = "venue-a"
format = "synthetic_live"
synthetic_live = { seed = 1, symbols = ["NVDA", "BRK.B"] }
[[market_data.feeds]]
name = "venue-b"
format = "synthetic_live"
synthetic_live = { seed = 2, symbols = ["ORCL"] }
"""
_TWO_VENUES = """
[cluster.roles.md-a]
actors = ["market_data"]
feeds = ["venue-a"]
[cluster.roles.md-b]
actors = ["market_data"]
feeds = ["venue-b"]
[cluster.roles.rest]
actors = ["strategy", "portfolio", "risk", "execution"]
"""


def _with_feeds(roles: str) -> AtriumConfig:
    return parse_config(
        tomllib.loads(_STRATEGIES + _FEEDS + '[cluster]\nnamespace = "t"\n' + roles)
    )


def test_two_market_data_roles_each_read_their_own_feeds_and_publish_what_others_want() -> None:
    config_a, wiring_a = role_config(_with_feeds(_TWO_VENUES), "md-a")
    config_b, wiring_b = role_config(_with_feeds(_TWO_VENUES), "md-b")

    assert [f.synthetic_live.symbols for f in config_a.market_data.feeds] == [["NVDA", "BRK.B"]]
    assert [f.synthetic_live.symbols for f in config_b.market_data.feeds] == [["ORCL"]]
    assert wiring_a.driver and wiring_b.driver
    assert "Bar" in config_a.topology.actors[BRIDGE].subscribes
    assert wiring_a.durable != wiring_b.durable  # one lock and one id space each


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (
            _TWO_VENUES.replace('feeds = ["venue-b"]\n', ""),
            "cluster.roles.md-b.feeds: the market data actor runs in several roles (md-a, "
            "md-b), so each must list the feeds it reads",
        ),
        (
            _TWO_VENUES.replace('feeds = ["venue-b"]', 'feeds = ["venue-a"]'),
            "cluster.roles.md-b.feeds: feed 'venue-a' is already read by role 'md-a'",
        ),
        (
            _TWO_VENUES.replace('feeds = ["venue-b"]', 'feeds = ["venue-c"]'),
            "cluster.roles.md-b.feeds: unknown feed 'venue-c'; feeds: venue-a, venue-b",
        ),
        (
            _TWO_VENUES.replace('feeds = ["venue-b"]', "feeds = []"),
            "cluster.roles: no role reads feed venue-b",
        ),
        (
            _TWO_VENUES.replace('actors = ["strategy", "portfolio", "risk", "execution"]',
                                'actors = ["strategy", "portfolio", "risk", "execution"]\n'
                                'feeds = ["venue-b"]'),
            "cluster.roles.rest.feeds: this role runs no market data actor",
        ),
    ],
)  # fmt: skip
def test_feeds_over_several_market_data_roles_that_do_not_fit_are_named(
    roles: str, message: str
) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        role_config(_with_feeds(roles), "md-a")


def test_a_replay_with_market_data_in_two_roles_is_refused_naming_them() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^cluster\.roles: the market data actor runs in roles md-a, md-b; a replay",
    ):
        check_replay_roles(_with_feeds(_TWO_VENUES))
    check_replay_roles(_config(_FOUR))  # one market data role: fine


@pytest.mark.parametrize(
    ("execution", "refused", "venue_input"),
    [
        ('venue = "paper"', False, False),
        ('venue = "ccxt"\n[execution.ccxt]\nexchange = "binance"\nsymbols = ["NVDA"]', False, True),
        ('venue = "my_venues:make"', True, False),
    ],
)
def test_a_core_rebuilds_on_paper_and_ccxt_only_and_keeps_ccxt_reports_on_the_stream(
    execution: str, refused: bool, venue_input: bool
) -> None:
    _, wiring = role_config(_config(_FOUR + "[execution]\n" + execution), "core")
    assert (wiring.no_rebuild is not None) == refused
    assert wiring.venue_input == venue_input
    # Its own actors subscribe to the reports: the consumer takes them back.
    assert "t.venue_report" in wiring.imports
    _, strategies = role_config(_config(_FOUR + "[execution]\n" + execution), "sa")
    assert strategies.no_rebuild is None and not strategies.venue_input


# -- a replay in which every role reads the files (replay_market_data = "local") ----------


def test_in_a_local_replay_the_core_and_strategy_roles_read_the_feeds_and_md_reads_none() -> None:
    config = _config(_FOUR)
    md, md_wiring = role_config(config, "md", replay=True)
    core, core_wiring = role_config(config, "core", replay=True)
    sa, sa_wiring = role_config(config, "sa", replay=True)
    assert list(md.topology.actors) == [BRIDGE]  # the coordinator: start and end only
    assert md_wiring.local is not None and md_wiring.local.part == "coordinator"
    assert md_wiring.local.core == "core" and md_wiring.imports == ()
    assert "market_data" in core.topology.actors and "market_data" in sa.topology.actors
    # No market data crosses: the bridges export none and consume only the start.
    for process, wiring in ((core, core_wiring), (sa, sa_wiring)):
        exported = process.topology.actors[BRIDGE].subscribes
        assert "Bar" not in exported and "Tick" not in exported
        assert wiring.imports == ("t.start",)
        assert not wiring.passes_market_data_on and not wiring.driver
    assert core_wiring.local is not None
    assert dict(core_wiring.local.followers) == {"sa": ("a",), "sb": ("b",)}
    assert sa_wiring.local is not None and sa_wiring.local.symbols == {"NVDA", "BRK.B"}
    # A live run of the same file is wired as before.
    _, live = role_config(config, "sa")
    assert live.local is None and "t.mdv.NVDA" in live.imports


def test_a_driven_replay_keeps_the_stream_wiring() -> None:
    assert _config(_FOUR).cluster.replay_market_data == "local"  # the default
    cluster = '[cluster]\nnamespace = "t"\nreplay_market_data = "driver"\n'
    driven = parse_config(tomllib.loads(_STRATEGIES + cluster + _FOUR))
    _, wiring = role_config(driven, "sa", replay=True)
    assert wiring.local is None and "t.mdv.NVDA" in wiring.imports


def test_a_local_replay_refuses_roles_that_split_the_core_naming_the_way_out() -> None:
    split = _FOUR.replace(
        '[cluster.roles.core]\nactors = ["portfolio", "risk", "execution"]',
        '[cluster.roles.core]\nactors = ["portfolio", "risk"]\n'
        '[cluster.roles.venue]\nactors = ["execution"]',
    )
    with pytest.raises(ConfigError, match=r"cluster.roles.venue: runs execution; .*\"driver\""):
        check_replay_roles(_config(split))


def test_feed_given_to_a_role_that_reads_no_market_data_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cluster.toml"
    data = EXAMPLE.parent / "data"
    config.write_text(EXAMPLE.read_text().replace('path = "data/', f'path = "{data}/'))
    code = main(
        ["replay", "--config", str(config), "--role", "market-data", "--out",
         str(tmp_path / "out"), "--feed", "other.csv", "--no-progress"]
    )  # fmt: skip
    assert code != 0
    assert "--feed: this process reads no market data" in capsys.readouterr().err


def test_a_round_is_ranked_by_strategy_in_config_order_keeping_each_strategys_order() -> None:
    ranked = rank_by_strategy(["slow", "fast"])
    intent = lambda strategy, number: OrderIntent(  # noqa: E731
        ts=number, intent_id=f"{strategy}-{number}", strategy=strategy, symbol="A", side="BUY"
    )
    tick = Tick(ts=9, symbol="A", price=Decimal(1), size=Decimal(1))
    given = [intent("fast", 1), tick, intent("other", 2), intent("slow", 3), intent("fast", 4)]
    assert [getattr(m, "intent_id", "tick") for m in ranked(given)] == [
        "slow-3",
        "fast-1",
        "fast-4",
        "tick",  # no strategy, and one not in the config: last, in the order they came
        "other-2",
    ]
