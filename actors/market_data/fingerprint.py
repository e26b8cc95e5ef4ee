"""What identifies the records a replay reads: the same fingerprint, the same records.

Processes of a cluster replay that read the recorded feeds themselves compare their
fingerprints before the first record, so two hosts with different copies of a file (or a
different ``--feed``) refuse to start instead of trading different data. A feed file is
known by its content, not its path, which may differ between hosts; pacing (``speed``)
does not change the records and is left out.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

from atrium.config.market_data import MarketDataConfig

__all__ = ("feeds_fingerprint",)

_CHUNK = 1 << 20


def feeds_fingerprint(config: MarketDataConfig) -> str:
    """A short hex digest of ``config``'s file feeds (their bytes) and its filters."""
    feeds = [
        msgspec.structs.replace(feed, path=_content_digest(Path(config.base_dir, feed.path)))
        if feed.path
        else feed
        for feed in config.feeds
    ]
    section = msgspec.structs.replace(config, feeds=feeds, base_dir="", speed=0.0)
    return hashlib.sha256(msgspec.json.encode(section)).hexdigest()[:16]


def _content_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return f"unreadable:{path.name}"  # opening the feed says why, by name
    return digest.hexdigest()
