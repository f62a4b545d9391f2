"""The client's timeline: one list, newest first, from every app that has something to say.

Each source returns at most `limit` entries older than `before`; merging them and keeping the
newest `limit` gives a page in one query per source, whatever the client's history.
Apps that attendance must not import (the dialer) register their sources from their AppConfig.
"""

import dataclasses
import datetime
from collections.abc import Callable

from django.utils.translation import gettext as _

from attendance.models import Agreement, CallDisposition, Message
from core.parsing import format_brl, format_phone

PAGE_SIZE = 30


@dataclasses.dataclass(frozen=True)
class Entry:
    at: datetime.datetime
    kind: str  # tabulacao, acordo, mensagem, discador, ligacao
    icon: str  # a Material Symbols name
    title: str
    detail: str = ""
    who: str = ""


Source = Callable[..., list[Entry]]
SOURCES: list[Source] = []


def register(source: Source) -> Source:
    if source not in SOURCES:
        SOURCES.append(source)
    return source


def _older(queryset, field, before, limit):
    if before is not None:
        queryset = queryset.filter(**{f"{field}__lt": before})
    return queryset.order_by(f"-{field}", "-id")[:limit]


def _user_name(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


@register
def dispositions(client, before, limit):
    rows = _older(
        CallDisposition.objects.filter(client=client).select_related("type", "operator", "phone"),
        "created_at",
        before,
        limit,
    )
    entries = []
    for d in rows:
        parts = []
        if d.phone_id:
            parts.append(_("Telefone %(p)s") % {"p": format_phone(d.phone.number)})
        if d.callback_at:
            parts.append(_("Retornar em %(t)s") % {"t": d.callback_at.astimezone().strftime("%d/%m/%Y %H:%M")})
        if d.notes:
            parts.append(d.notes)
        entries.append(Entry(d.created_at, "tabulacao", "call", d.type.name, " · ".join(parts), _user_name(d.operator)))
    return entries


@register
def agreements(client, before, limit):
    rows = _older(Agreement.objects.filter(client=client).select_related("operator"), "created_at", before, limit)
    return [
        Entry(
            a.created_at,
            "acordo",
            "handshake",
            _("Acordo #%(id)s — %(status)s") % {"id": a.pk, "status": a.get_status_display()},
            _("%(total)s em %(desc)s")
            % {
                "total": format_brl(a.total),
                "desc": (_("entrada de %(e)s + ") % {"e": format_brl(a.entry_amount)} if a.entry_amount else "")
                + _("%(n)s parcela(s)") % {"n": a.installments_count},
            },
            _user_name(a.operator),
        )
        for a in rows
    ]


@register
def messages(client, before, limit):
    rows = _older(Message.objects.filter(client=client), "sent_at", before, limit)
    return [
        Entry(
            m.sent_at, "mensagem", "chat", _("WhatsApp %(d)s") % {"d": m.get_direction_display().lower()}, m.body[:140]
        )
        for m in rows
    ]


def page(client, before: datetime.datetime | None = None, limit: int = PAGE_SIZE) -> tuple[list[Entry], bool]:
    """(entries newest first, whether older entries exist)."""
    entries = [entry for source in SOURCES for entry in source(client, before, limit + 1)]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit], len(entries) > limit
