"""Who may be dialled now: the one rule the send preview, the bulk action, `send_to_dialer` and the export
worker share.

The rule is one `Case` annotation (`skip_reason`) over the selection, so a million clients are classified by
PostgreSQL in one pass: every condition is either a column test or `pk IN (subquery)` over a small set
(call events of the week, phones marked "não ligar", recent sends), never a per-row subquery. What depends on
the clock (the calling window in each debtor's time zone) is decided in Python once per UF, and reaches the
query as a list of UFs.

Time zones: the debtor's zone comes from the UF. Fernando de Noronha (UTC-2) is in Pernambuco, whose
mainland is UTC-3, so a PE debtor is on Noronha time when the CEP is in the island's range (53990-000,
stored with or without the dash) or the city is "Fernando de Noronha". A client without a known UF is
treated as on São Paulo time with national holidays only.
"""

import dataclasses
import datetime
import functools
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.parsing import parse_int
from core.models import Client, ClientPhone
from dialer import calling_rules, selectors
from dialer.calling_rules import VOICE, city_key, city_regex
from dialer.models import CallingWindowOverride, DialerCallEvent, DialerRemoval, MunicipalHoliday

SEND = "enviar"
OUTSIDE_HOURS = "fora_do_horario"

# In order of precedence: a client is counted once, under the first reason that applies.
REASONS = {
    "nao_ligar_cliente": gettext_lazy("não ligar (cliente)"),
    "quitado": gettext_lazy("quitado"),
    # Before "saldo zero": an agreement moves the títulos out of "em aberto", so the client's open balance
    # reads zero while the agreement is what actually keeps it from being called.
    "em_acordo": gettext_lazy("acordo ativo ou aguardando aprovação"),
    "saldo_zero": gettext_lazy("saldo zero"),
    "nao_ligar_telefone": gettext_lazy("não ligar (telefone)"),
    "sem_telefone": gettext_lazy("sem telefone discável"),
    "limite_tentativas": gettext_lazy("limite de tentativas"),
    "retorno_agendado": gettext_lazy("retorno agendado para mais tarde"),
    "nova_tentativa": gettext_lazy("nova tentativa pela regra de resultado"),
    "enviado_recentemente": gettext_lazy("enviado recentemente a esta campanha"),
    OUTSIDE_HOURS: gettext_lazy("fora do horário permitido no estado do devedor"),
}

# The reasons that hold a client instead of skipping it: "Enviar" accepts it, and the projection
# (dialer/projection.py) puts it on the 3C Plus list only while none of them applies.
HOLD_REASONS = frozenset({"limite_tentativas", "retorno_agendado", "nova_tentativa", OUTSIDE_HOURS})

UF_TIME_ZONES = {
    "AC": "America/Rio_Branco",
    "AM": "America/Manaus",
    "RR": "America/Boa_Vista",
    "RO": "America/Porto_Velho",
    "MT": "America/Cuiaba",
    "MS": "America/Campo_Grande",
    "PA": "America/Belem",
    "AP": "America/Belem",
    "TO": "America/Araguaina",
    "MA": "America/Fortaleza",
    "PI": "America/Fortaleza",
    "CE": "America/Fortaleza",
    "RN": "America/Fortaleza",
    "PB": "America/Fortaleza",
    "PE": "America/Recife",
    "AL": "America/Maceio",
    "SE": "America/Maceio",
    "BA": "America/Bahia",
    "GO": "America/Sao_Paulo",
    "DF": "America/Sao_Paulo",
    "MG": "America/Sao_Paulo",
    "ES": "America/Sao_Paulo",
    "RJ": "America/Sao_Paulo",
    "SP": "America/Sao_Paulo",
    "PR": "America/Sao_Paulo",
    "SC": "America/Sao_Paulo",
    "RS": "America/Sao_Paulo",
}
NORONHA = "NORONHA"  # a pseudo-UF: the island, with Pernambuco's holidays
NORONHA_TIME_ZONE = "America/Noronha"
UNKNOWN_UF = ""  # no or unknown UF: São Paulo time, national holidays
NORONHA_Q = Q(state="PE") & (Q(postal_code__startswith="53990") | Q(city__iexact="Fernando de Noronha"))

HOURS_KEY = "dialer_calling_hours"
PER_DAY_KEY = "dialer_max_calls_per_day"
PER_WEEK_KEY = "dialer_max_calls_per_week"
MAX_CALLS_LIMIT = 1000  # far above any sane allowance, and a count the database compares without overflow
DEFAULT_HOURS = {"weekdays": "08:00-20:00", "saturday": "08:00-14:00", "sunday": "", "holidays": ""}


DAY_KINDS = {"weekdays": "dias úteis", "saturday": "sábado", "sunday": "domingo", "holidays": "feriados"}


def clean_calling_rules(result: dict) -> dict:
    """{key: message} for the calling rules of a settings object that the eligibility could not read: a window
    that is not "HH:MM-HH:MM" (or empty), starts after it ends or names an unknown day, a limit that is not a
    whole number of calls (0: no limit). Saved as they were, they failed every export and the eligibility page."""
    errors = {}
    hours = result.get(HOURS_KEY)
    example = '{"weekdays": "08:00-20:00", "saturday": "08:00-14:00", "sunday": "", "holidays": ""}'
    if hours not in (None, ""):
        if not isinstance(hours, dict):
            errors[HOURS_KEY] = _("Use um objeto com os horários, como %(example)s.") % {"example": example}
        elif unknown := sorted(set(hours) - set(DAY_KINDS)):
            errors[HOURS_KEY] = _("Dia desconhecido nos horários de discagem: %(keys)s. Use %(known)s.") % {
                "keys": ", ".join(unknown),
                "known": ", ".join(DAY_KINDS),
            }
        else:
            for kind, text in hours.items():
                if not isinstance(text, str) or _windows_problem(text):
                    errors[HOURS_KEY] = _(
                        "Horário inválido para %(day)s: “%(value)s”. Use HH:MM-HH:MM com o início antes do fim, como "
                        "08:00-20:00, turnos separados por vírgula (08:00-12:00, 14:00-18:00) sem se sobrepor, ou "
                        "vazio para não discar nesse dia."
                    ) % {"day": DAY_KINDS[kind], "value": text}
                    break
    limits = {PER_DAY_KEY: _("por dia"), PER_WEEK_KEY: _("por semana")}
    for key, period in limits.items():
        value = result.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, str) and parse_int(value, max_digits=9) is not None:  # the JSON editor sends "10"
            value = result[key] = parse_int(value, max_digits=9)
        if isinstance(value, bool) or not isinstance(value, int):
            errors[key] = _(
                "Máximo de ligações %(period)s: informe um número inteiro, como 3 (0 ou vazio: sem limite)."
            ) % {"period": period}
        elif value < 0:
            errors[key] = _("Máximo de ligações %(period)s: não pode ser negativo (0 ou vazio: sem limite).") % {
                "period": period
            }
        elif value > MAX_CALLS_LIMIT:
            errors[key] = _("Máximo de ligações %(period)s: no máximo %(max)s (0 ou vazio: sem limite).") % {
                "period": period,
                "max": MAX_CALLS_LIMIT,
            }
    return errors


def region_time_zone(region: str) -> ZoneInfo:
    if region == NORONHA:
        return ZoneInfo(NORONHA_TIME_ZONE)
    return ZoneInfo(UF_TIME_ZONES.get(region, "America/Sao_Paulo"))


def client_region(client) -> str:
    """The region (UF, NORONHA or UNKNOWN_UF) whose clock and holidays apply to a client."""
    state = (client.state or "").upper()
    if state == "PE" and (
        (client.postal_code or "").startswith("53990")
        or (client.city or "").strip().casefold() == "fernando de noronha"
    ):
        return NORONHA
    return state if state in UF_TIME_ZONES else UNKNOWN_UF


@functools.lru_cache(maxsize=256)
def _holidays(region: str, year: int):
    subdiv = "PE" if region == NORONHA else (region or None)
    return holidays.Brazil(subdiv=subdiv, years=year)


def _parse_window(text: str) -> tuple[tuple[datetime.time, datetime.time], ...]:
    """ "08:00-20:00", or shifts separated by commas ("08:00-12:00, 14:00-18:00"), in order; the end is exclusive
    and "24:00" is the end of the day. "" is closed all day (no shift). ValueError for anything else."""
    text = str(text or "").strip()
    if not text:
        return ()
    shifts = []
    for part in text.split(","):
        start, end = (piece.strip() for piece in part.split("-"))  # ValueError unless exactly two parts
        shifts.append(
            (
                datetime.time.fromisoformat(start),
                datetime.time.max if end == "24:00" else datetime.time.fromisoformat(end),
            )
        )
    return tuple(sorted(shifts))


def _windows_problem(text: str) -> bool:
    """Whether the eligibility could not apply the hours as typed: unreadable, a shift that ends before it starts,
    or shifts that overlap (a typo the admin should see rather than one long window)."""
    try:
        shifts = _parse_window(text)
    except ValueError:
        return True
    ends = [datetime.time.min, *(end for _start, end in shifts)]
    return any(start >= end or start < previous_end for (start, end), previous_end in zip(shifts, ends, strict=False))


def _intersect(first, second) -> tuple[tuple[datetime.time, datetime.time], ...]:
    """The shifts both windows allow, in order."""
    result = []
    for start_a, end_a in first:
        for start_b, end_b in second:
            start, end = max(start_a, start_b), min(end_a, end_b)
            if start < end:
                result.append((start, end))
    return tuple(sorted(result))


def _contains(outer, inner) -> bool:
    """Whether every shift of `inner` lies within one shift of `outer`."""
    return all(any(o_start <= start and end <= o_end for o_start, o_end in outer) for start, end in inner)


def wider_than_law(region: str, hours: dict) -> list[str]:
    """The day kinds (weekdays, saturday, ...) where `hours` allows calls the law's window for the region does not."""
    law = calling_rules.rule_for(region).hours()
    return [kind for kind in DAY_KINDS if not _contains(_parse_window(law[kind]), _parse_window(hours.get(kind, "")))]


# How long ahead the municipal holidays are read: next_opening looks 15 days ahead, window() callers a week.
CITY_HOLIDAYS_BEHIND = datetime.timedelta(days=7)
CITY_HOLIDAYS_AHEAD = datetime.timedelta(days=60)


@dataclasses.dataclass(frozen=True)
class CallingPolicy:
    """A tenant's calling rules: the law of each UF (dialer/calling_rules.py) or the tenant's own window for it,
    intersected with the tenant's general hours (tenant settings, with defaults), and its municipal holidays."""

    hours: dict
    per_day: int | None
    per_week: int | None
    overrides: dict = dataclasses.field(default_factory=dict)  # region -> {day kind: window}
    city_holidays: dict = dataclasses.field(default_factory=dict)  # (UF, city key) -> frozenset of dates

    @classmethod
    def for_tenant(cls, tenant) -> "CallingPolicy":
        stored = tenant.stored_settings if tenant is not None else {}
        hours = {**DEFAULT_HOURS, **(stored.get(HOURS_KEY) or {})}
        overrides, city_holidays = {}, defaultdict(set)
        if tenant is not None and tenant.pk is not None:
            overrides = {o.state: o.hours() for o in CallingWindowOverride.objects.filter(tenant=tenant)}
            today = timezone.now().date()
            rows = MunicipalHoliday.objects.filter(
                tenant=tenant, date__gte=today - CITY_HOLIDAYS_BEHIND, date__lte=today + CITY_HOLIDAYS_AHEAD
            ).values_list("state", "city_key", "date")
            for state, key, day in rows:
                city_holidays[(state, key)].add(day)
        return cls(
            hours=hours,
            per_day=stored.get(PER_DAY_KEY) or None,
            per_week=stored.get(PER_WEEK_KEY) or None,
            overrides=overrides,
            city_holidays={key: frozenset(days) for key, days in city_holidays.items()},
        )

    def override_for(self, region: str) -> dict | None:
        """The tenant's own window for the region (Noronha falls back to Pernambuco's)."""
        found = self.overrides.get(region)
        if found is None and region == NORONHA:
            found = self.overrides.get("PE")
        return found

    def legal_hours(self, region: str, channel: str = VOICE) -> dict:
        """{day kind: window} for the region before the tenant's general hours: its own window or the law's."""
        return self.override_for(region) or calling_rules.rule_for(region, channel).hours()

    def municipal_holiday(self, region: str, day: datetime.date, city: str | None) -> bool:
        if not city:
            return False
        uf = "PE" if region == NORONHA else region
        return day in self.city_holidays.get((uf, city_key(city)), ())

    def day_kind(self, region: str, day: datetime.date, *, city: str | None = None) -> str:
        if day in _holidays(region, day.year) or self.municipal_holiday(region, day, city):
            return "holidays"
        return {6: "sunday", 5: "saturday"}.get(day.weekday(), "weekdays")

    def window(
        self, region: str, day: datetime.date, *, city: str | None = None, channel: str = VOICE
    ) -> tuple[tuple[datetime.time, datetime.time], ...]:
        """The day's shifts in the region (and city, for its municipal holidays), in order (none: closed)."""
        kind = self.day_kind(region, day, city=city)
        return _intersect(_parse_window(self.legal_hours(region, channel)[kind]), _parse_window(self.hours[kind]))

    def next_opening(
        self, region: str, now: datetime.datetime, *, city: str | None = None, channel: str = VOICE
    ) -> datetime.datetime | None:
        """None when the region's window is open at `now`, else when it opens next (aware, region's zone)."""
        local = now.astimezone(region_time_zone(region))
        for offset in range(0, 15):
            day = local.date() + datetime.timedelta(days=offset)
            for shift_start, shift_end in self.window(region, day, city=city, channel=channel):
                start = datetime.datetime.combine(day, shift_start, tzinfo=local.tzinfo)
                end = datetime.datetime.combine(day, shift_end, tzinfo=local.tzinfo)
                if offset == 0 and start <= local < end:
                    return None
                if local < start:
                    return start
        return local + datetime.timedelta(days=15)  # no window configured at all

    def holiday_cities(self) -> list[tuple[str, str]]:
        """(UF, city key) of every city with a municipal holiday the policy knows of."""
        return sorted(self.city_holidays)


def _region_q(region: str) -> Q:
    if region == NORONHA:
        return NORONHA_Q
    if region == "PE":
        return Q(state="PE") & ~NORONHA_Q
    if region == UNKNOWN_UF:
        return ~Q(state__in=list(UF_TIME_ZONES))
    return Q(state=region)


def _closed_regions(policy: CallingPolicy, now, *, channel: str = VOICE) -> list[tuple[datetime.datetime, Q]]:
    """(when it opens, Q of the clients whose window is closed now), one entry per opening time; first the cities
    whose municipal holiday puts them apart from their region (the Case takes the first match), then the regions."""
    by_opening: dict[datetime.datetime, list[str]] = defaultdict(list)
    region_openings = {}
    for region in [*UF_TIME_ZONES, NORONHA, UNKNOWN_UF]:
        opening = region_openings[region] = policy.next_opening(region, now, channel=channel)
        if opening is not None:
            by_opening[opening.astimezone(datetime.UTC)].append(region)
    cities: dict[datetime.datetime, Q] = {}
    for uf, key in policy.holiday_cities():
        for region in [uf, NORONHA] if uf == "PE" else [uf]:
            if region not in region_openings:
                continue
            opening = policy.next_opening(region, now, city=key, channel=channel)
            if opening is None or opening == region_openings[region]:
                continue
            q = _region_q(region) & Q(city__regex=city_regex(key))
            at = opening.astimezone(datetime.UTC)
            cities[at] = cities[at] | q if at in cities else q
    result = sorted(cities.items())
    for opening, regions in sorted(by_opening.items()):
        plain = [r for r in regions if r not in (NORONHA, "PE", UNKNOWN_UF)]
        q = Q(state__in=plain) if plain else Q(pk__in=[])
        for special in {NORONHA, "PE", UNKNOWN_UF} & set(regions):
            q |= _region_q(special)
        result.append((opening, q))
    return result


def closed_now(policy: CallingPolicy, now, *, channel: str = VOICE) -> Q:
    """The clients outside their legal window for this channel now (their state's law, the agency's hours, national,
    state and municipal holidays): what the régua must not message yet."""
    q = Q(pk__in=[])
    for _opening, closed in _closed_regions(policy, now, channel=channel):
        q |= closed
    return q


def _capped(tenant, policy: CallingPolicy, now, among: Q) -> Q | None:
    """Clients who already had the day's or the week's allowance of calls (the call-history events)."""
    local = timezone.localtime(now)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    caps = []
    if policy.per_day:
        caps.append((midnight, policy.per_day))
    if policy.per_week:
        caps.append((midnight - datetime.timedelta(days=local.weekday()), policy.per_week))
    q = None
    for since, cap in caps:
        counted = (
            DialerCallEvent.objects.filter(
                tenant=tenant, event=DialerCallEvent.Event.HISTORY, received_at__gte=since, client__isnull=False
            )
            .filter(among)
            .values("client_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=cap)
            .values("client_id")
        )
        q = Q(pk__in=counted) if q is None else q | Q(pk__in=counted)
    return q


def stop_conditions() -> list[tuple[str, Q]]:
    """The rule's first conditions, on the client alone: what takes a client out of the campaigns it was already sent
    to (core.services.stop_calling), where the clock, the caps and a recent send only keep it from being sent now."""
    return [
        ("nao_ligar_cliente", ~Q(do_not_call_reason="")),
        ("quitado", Q(status=Client.Status.PAID)),
        ("em_acordo", Q(status__in=[Client.Status.AGREEMENT, Client.Status.NEGOTIATING])),
        ("saldo_zero", Q(open_balance__lte=Decimal("0"))),
    ]


def conditions(tenant, campaign_id, now=None, among: Q | None = None) -> list[tuple[str, Q]]:
    """(reason value, Q) in order of precedence; the clock-dependent ones are decided for `now`.

    `among`, a Q on `client_id`, says which clients will be classified (a few thousand ids, an id range): the
    subqueries then read only their rows through the client index instead of a whole table, which matters when
    a big selection is classified a piece at a time."""
    now = now or timezone.now()
    among = among or Q()
    policy = CallingPolicy.for_tenant(tenant)
    phones_off = ClientPhone.objects.exclude(do_not_call_reason="").filter(among)
    if tenant is not None:
        phones_off = phones_off.filter(tenant=tenant)
    result = [
        *stop_conditions(),
        ("nao_ligar_telefone", Q(main_phone="") & Q(pk__in=phones_off.values("client_id"))),
        ("sem_telefone", Q(main_phone="")),
    ]
    capped = _capped(tenant, policy, now, among) if tenant is not None else None
    if capped is not None:
        result.append(("limite_tentativas", capped))
    if tenant is not None:
        from dialer import holds

        result.extend(holds.conditions(tenant, now, among))
    if campaign_id:
        since = now - datetime.timedelta(hours=settings.DIALER_RESEND_AFTER_HOURS)
        # A send the client was since taken out of (an agreement, later rejected or cancelled) no longer says
        # "recently sent": the campaign's list lost the contact, so sending again is not a repeat.
        removed_since = DialerRemoval.objects.filter(
            client_id=OuterRef("client_id"),
            campaign_id=OuterRef("campaign_id"),
            status=DialerRemoval.Status.DONE,
            done_at__gte=OuterRef("sent_at"),
        )
        recent = (
            selectors.sent_items(tenant=tenant, campaign_id=campaign_id, since=since)
            .filter(among)
            .exclude(Exists(removed_since))
        )
        result.append(("enviado_recentemente", Q(pk__in=recent.values("client_id"))))
    for opening, q in _closed_regions(policy, now):
        result.append((f"{OUTSIDE_HOURS}@{opening.isoformat()}", q))
    return result


def classify(queryset, tenant, campaign_id, now=None, among: Q | None = None):
    """The selection annotated with `skip_reason` (SEND for those who may be dialled now); `among` as in
    conditions(), when the selection is known to lie within it."""
    reason = Case(
        *[When(q, then=Value(name)) for name, q in conditions(tenant, campaign_id, now, among)],
        default=Value(SEND),
        output_field=CharField(),
    )
    return queryset.order_by().annotate(skip_reason=reason)


def eligible(queryset, tenant, campaign_id, now=None):
    """The clients of a selection that may be dialled now."""
    return classify(queryset, tenant, campaign_id, now).filter(skip_reason=SEND)


def base_reason(value: str) -> str:
    return value.split("@", 1)[0]


def is_held(value: str) -> bool:
    """A reason that holds the client (sent later, when it no longer applies) rather than skipping it."""
    return base_reason(value) in HOLD_REASONS


def reason_label(value: str) -> str:
    return str(REASONS.get(base_reason(value), value))


def preview(queryset, tenant, campaign_id, now=None) -> dict:
    """Counts of a selection from one grouped aggregate (each client classified once): never loads the rows.

    Outside the calling window, `opens` lists when each group's window opens (in the debtor's time).
    """
    now = now or timezone.now()
    groups = (
        classify(queryset, tenant, campaign_id, now)
        .annotate(region=region_case())
        .values("skip_reason", "region")
        .annotate(n=Count("pk"), balance=Sum("open_balance"), phones=Sum("active_phones"))
    )
    # Grouped by region too, so that the window's text knows which regions the selection holds without a query per
    # region (one of them, the unknown UF, read the whole selection when it had none).
    merged: dict[str, dict] = {}
    regions = set()
    for row in groups:
        regions.add(row["region"])
        into = merged.setdefault(row["skip_reason"], {"skip_reason": row["skip_reason"], "n": 0})
        into["n"] += row["n"]
        for key in ("balance", "phones"):
            if row[key] is not None:
                into[key] = into.get(key, 0) + row[key]
    result = summarize(merged.values())
    if tenant is not None:
        from dialer.projection import window_text

        result["window_text"] = window_text(result, queryset, tenant, now, regions=regions)
    return result


def region_case() -> Case:
    """The client's region (client_region) as a column: a UF, NORONHA or UNKNOWN_UF, as _region_q selects them."""
    return Case(
        When(NORONHA_Q, then=Value(NORONHA)),
        When(state__in=list(UF_TIME_ZONES), then=F("state")),
        default=Value(UNKNOWN_UF),
        output_field=CharField(),
    )


def summarize(groups) -> dict:
    """The preview's figures from rows of {skip_reason, n, balance, phones} (one per reason)."""
    groups = list(groups)
    skipped: dict[str, int] = {}
    opens = []
    send = {}
    held_phones, held_balance = 0, Decimal("0")
    for row in groups:
        value = row["skip_reason"]
        if value == SEND:
            send = row
            continue
        if is_held(value):
            held_phones += row.get("phones") or 0
            held_balance += row.get("balance") or Decimal("0")
        name = base_reason(value)
        skipped[name] = skipped.get(name, 0) + row["n"]
        if name == OUTSIDE_HOURS:
            opens.append((datetime.datetime.fromisoformat(value.split("@", 1)[1]), row["n"]))
    skipped = {name: skipped[name] for name in REASONS if name in skipped}
    held = {name: n for name, n in skipped.items() if name in HOLD_REASONS}
    opens.sort()
    return {
        "selected": sum(row["n"] for row in groups),
        "to_send": send.get("n", 0),
        "skipped": skipped,  # every client not sent now, held ones included (the export's "skipped" leaves them out)
        "held": held,
        "held_total": sum(held.values()),
        "accepted": send.get("n", 0) + sum(held.values()),
        "held_labels": [(str(REASONS[name]), count) for name, count in held.items()],
        "skipped_labels": [(str(REASONS[name]), count) for name, count in skipped.items() if name not in held],
        "opens": [(timezone.localtime(at), count) for at, count in opens],
        "phones": send.get("phones") or 0,
        "balance": send.get("balance") or Decimal("0"),
        "held_phones": held_phones,
        "held_balance": held_balance,
    }


def opens_text(opens) -> str:
    """ "12 às 08:00 de 30/11" for the preview, in the back office's time."""
    return "; ".join(
        _("%(n)s a partir de %(at)s") % {"n": count, "at": at.strftime("%d/%m %H:%M")} for at, count in opens
    )
