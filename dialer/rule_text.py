"""Which calling rule applies, in words: the send preview (per group of the selection) and the client header.

"RJ — Lei estadual nº 7.868/2018 (RJ), …: seg–sex 09:00–19:00; sábado, domingo e feriados: não" and whether the
window is open now, in the debtor's own time.
"""

import dataclasses
import datetime

from django.db.models import Case, CharField, Count, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from dialer import calling_rules
from dialer.calling_rules import VOICE, city_regex
from dialer.eligibility import (
    NORONHA,
    NORONHA_Q,
    UF_TIME_ZONES,
    UNKNOWN_UF,
    CallingPolicy,
    _intersect,
    _parse_window,
    _region_q,
    client_region,
    region_time_zone,
)
from dialer.models import MunicipalHoliday

KIND_LABELS = {"weekdays": "seg–sex", "saturday": "sábado", "sunday": "domingo", "holidays": "feriados"}


@dataclasses.dataclass(frozen=True)
class AppliedRule:
    region: str
    label: str  # "RJ", "Fernando de Noronha (PE)"
    text: str  # the whole sentence
    open_now: bool
    opens_at: datetime.datetime | None  # in the region's time
    count: int = 0

    @property
    def status(self) -> str:
        if self.open_now:
            return _("aberta agora")
        if self.opens_at is None:
            return _("fechada agora")
        return _("fechada agora; abre %(day)s às %(time)s (horário local)") % {
            "day": self.opens_at.strftime("%d/%m"),
            "time": self.opens_at.strftime("%H:%M"),
        }


def region_label(region: str) -> str:
    if region == NORONHA:
        return _("Fernando de Noronha (PE)")
    return region or _("UF não informada")


def _shifts_text(shifts) -> str:
    if not shifts:
        return _("não")
    return ", ".join(f"{start:%H:%M}–{_end_text(end)}" for start, end in shifts)


def _end_text(end: datetime.time) -> str:
    return "24:00" if end == datetime.time.max else f"{end:%H:%M}"


def windows_text(policy: CallingPolicy, region: str, channel: str = VOICE) -> str:
    """ "seg–sex 09:00–19:00; sábado, domingo e feriados: não": the effective windows, days with the same one
    named together."""
    legal = policy.legal_hours(region, channel)
    groups: dict[str, list[str]] = {}
    for kind, label in KIND_LABELS.items():
        shifts = _intersect(_parse_window(legal[kind]), _parse_window(policy.hours[kind]))
        groups.setdefault(_shifts_text(shifts), []).append(label)
    parts = []
    for text, labels in groups.items():
        names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + _(" e ") + labels[-1]
        parts.append(f"{names}: {text}" if not text[0].isdigit() else f"{names} {text}")
    return "; ".join(parts)


def source_text(policy: CallingPolicy, region: str, channel: str = VOICE) -> str:
    law = calling_rules.rule_for(region, channel)
    source = law.source
    if policy.override_for(region) is not None:
        source = _("janela definida pela empresa (a lei: %(law)s)") % {"law": law.source}
    narrowed = any(
        _intersect(_parse_window(policy.legal_hours(region, channel)[kind]), _parse_window(policy.hours[kind]))
        != _parse_window(policy.legal_hours(region, channel)[kind])
        for kind in KIND_LABELS
    )
    if narrowed:
        source += _("; limitada pelo horário da empresa")
    return source


def applied_rule(
    policy: CallingPolicy, region: str, now=None, *, city: str | None = None, channel: str = VOICE, count: int = 0
) -> AppliedRule:
    now = now or timezone.now()
    opening = policy.next_opening(region, now, city=city, channel=channel)
    label = region_label(region)
    text = f"{label} — {source_text(policy, region, channel)}: {windows_text(policy, region, channel)}"
    local_day = now.astimezone(region_time_zone(region)).date()
    if city and policy.municipal_holiday(region, local_day, city):
        text += _(" — hoje é feriado municipal em %(city)s") % {"city": city}
    return AppliedRule(region, label, text, opening is None, opening, count)


def client_rule(client, tenant, now=None, *, channel: str = VOICE) -> AppliedRule:
    """The rule for one client: its UF (or Noronha), its city's municipal holidays."""
    return applied_rule(
        CallingPolicy.for_tenant(tenant), client_region(client), now, city=client.city or None, channel=channel
    )


def selection_rules(queryset, tenant, now=None) -> list[AppliedRule]:
    """One rule per region present in the selection, with its count, and apart the clients of a city on municipal
    holiday today: a single grouped aggregate."""
    now = now or timezone.now()
    policy = CallingPolicy.for_tenant(tenant)
    region = Case(
        When(NORONHA_Q, then=Value(NORONHA)),
        When(state__in=list(UF_TIME_ZONES), then=F("state")),
        default=Value(UNKNOWN_UF),
        output_field=CharField(),
    )
    on_holiday = []
    for uf, key in policy.holiday_cities():
        for place in [uf, NORONHA] if uf == "PE" else [uf]:
            if policy.municipal_holiday(place, now.astimezone(region_time_zone(place)).date(), key):
                on_holiday.append((place, key))
    holiday_city = Value("")
    if on_holiday:
        holiday_city = Case(
            *[When(_region_q(place) & Q(city__regex=city_regex(key)), then=Value(key)) for place, key in on_holiday],
            default=Value(""),
            output_field=CharField(),
        )
    rows = (
        queryset.order_by()
        .annotate(region=region, holiday_city=holiday_city)
        .values("region", "holiday_city")
        .annotate(n=Count("pk"))
        .order_by("region", "holiday_city")
    )
    names = {}
    if on_holiday:
        today = timezone.localdate(now)
        for state, key, city in MunicipalHoliday.objects.filter(
            tenant=tenant, date__gte=today - datetime.timedelta(days=1), date__lte=today + datetime.timedelta(days=1)
        ).values_list("state", "city_key", "city"):
            names[(state, key)] = city
    result = []
    for row in rows:
        key = row["holiday_city"] or None
        city = names.get(("PE" if row["region"] == NORONHA else row["region"], key), key) if key else None
        result.append(applied_rule(policy, row["region"], now, city=city, count=row["n"]))
    return result


def law_summary(region: str, channel: str = VOICE) -> str:
    """The law's window for a region, with its source, before any tenant's hours."""
    rule = calling_rules.rule_for(region, channel)
    law_only = CallingPolicy(hours=dict.fromkeys(KIND_LABELS, "00:00-24:00"), per_day=None, per_week=None)
    return f"{windows_text(law_only, region, channel)} — {rule.source}"
