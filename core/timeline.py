"""The client's timeline: one list, newest first, from every app that has something to say.

Each source returns at most `limit` entries older than `before`; merging them and keeping the
newest `limit` gives a page in one query per source, whatever the client's history. Apps register
their sources in core.hooks.timeline_sources from their AppConfig.ready(), so core imports none of them.
"""

import dataclasses
import datetime

from common.parsing import clamp_datetime
from core import hooks

PAGE_SIZE = 30


@dataclasses.dataclass(frozen=True)
class Entry:
    at: datetime.datetime
    kind: str  # tabulacao, acordo, mensagem, discador, ligacao
    icon: str  # a Material Symbols name
    title: str
    detail: str = ""
    who: str = ""
    link: str = ""  # an external URL
    link_label: str = ""
    audio: str = ""  # a recording to play on the page (our URL)

    def __post_init__(self):
        # A moment stored before dates from 3C Plus were bounded (year 1, 9999) overflows in local time.
        object.__setattr__(self, "at", clamp_datetime(self.at))


def older(queryset, field: str, before, limit: int):
    """A source's page: at most `limit` rows older than `before`, newest first."""
    if before is not None:
        queryset = queryset.filter(**{f"{field}__lt": before})
    return queryset.order_by(f"-{field}", "-id")[:limit]


def user_name(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


def page(client, before: datetime.datetime | None = None, limit: int = PAGE_SIZE) -> tuple[list[Entry], bool]:
    """(entries newest first, whether older entries exist)."""
    entries = [entry for source in hooks.timeline_sources for entry in source(client, before, limit + 1)]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit], len(entries) > limit
