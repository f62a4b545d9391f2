"""What holds a client off the 3C Plus lists for a while (beside the calling window and the attempt caps, which
dialer/eligibility.py decides): a callback scheduled for later, and the tenant's re-work rule by last outcome.

Both are `(reason, Q)` conditions the eligibility adds to its one rule, so the preview, the send and the projection's
sweep (dialer/projection.py) read them the same way.

Re-work by outcome ("reciclagem"): a tenant rule says after how many hours a number whose last call ended without
an answer, busy or in a voicemail goes back to the list, and at most how many such calls a client may have in a
day. The call outcome is the call history's `status` [VF EVENTOS_SOCKET.md, API_NOTES §6: 5 not answered, 6
abandoned, 7 finished with an agent, 8 failed, 9 voicemail]. No source gives a "busy" status: a busy line ends as a
failed call (8) here, our reading.
"""

import datetime

from django import forms
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.widgets import UnfoldAdminIntegerFieldWidget

from core import hooks
from dialer.models import DialerCallEvent
from tenants.settings_schema import SettingsSection

CALLBACK = "retorno_agendado"
REWORK = "nova_tentativa"

# Outcome: (settings key of its hours, call-history statuses, label).
OUTCOMES = {
    "no_answer": ("dialer_rework_no_answer_hours", ("5",), gettext_lazy("sem resposta")),
    "busy": ("dialer_rework_busy_hours", ("8",), gettext_lazy("ocupado")),
    "voicemail": ("dialer_rework_voicemail_hours", ("9",), gettext_lazy("caixa postal")),
}
MAX_PER_DAY_KEY = "dialer_rework_max_per_day"
MAX_HOURS = 24 * 14
MAX_PER_DAY = 100


def rework_rule(tenant) -> dict:
    """{"hours": {status: hours}, "max_per_day": K or None}: the outcomes the tenant re-queues (none: no rule)."""
    stored = tenant.stored_settings if tenant is not None else {}
    hours = {}
    for key, statuses, _label in OUTCOMES.values():
        value = stored.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            for status in statuses:
                hours[status] = value
    per_day = stored.get(MAX_PER_DAY_KEY)
    valid = isinstance(per_day, int) and not isinstance(per_day, bool) and per_day > 0
    return {"hours": hours, "max_per_day": per_day if valid else None}


def clean_rework(result: dict) -> dict:
    errors = {}
    for key, limit in [*((key, MAX_HOURS) for key, _s, _l in OUTCOMES.values()), (MAX_PER_DAY_KEY, MAX_PER_DAY)]:
        value = result.get(key)
        if value in (None, ""):
            result.pop(key, None)
            continue
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) < 6:
            value = result[key] = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
            errors[key] = _("Informe um número inteiro de 0 a %(max)s (0 ou vazio: desligado).") % {"max": limit}
    return errors


class ReworkSection(SettingsSection):
    """The re-work rule by last outcome: fields of their own, like the calling rules."""

    title = gettext_lazy("Reciclagem por resultado")

    def clean(self, result, stored):
        return clean_rework(result)

    def form_fields(self):
        common = {"required": False, "min_value": 0, "widget": UnfoldAdminIntegerFieldWidget}
        fields = {
            key: forms.IntegerField(
                label=_("Ligar de novo após (horas): %(outcome)s") % {"outcome": label},
                help_text=_("O número sai da lista e volta depois dessas horas. Vazio ou 0: não recicla."),
                max_value=MAX_HOURS,
                **common,
            )
            for key, _statuses, label in OUTCOMES.values()
        }
        fields[MAX_PER_DAY_KEY] = forms.IntegerField(
            label=_("No máximo, tentativas recicladas por cliente por dia"),
            help_text=_("Depois disso o cliente volta no dia seguinte. Vazio ou 0: sem limite."),
            max_value=MAX_PER_DAY,
            **common,
        )
        return fields


def _midnight(now):
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def rework_q(tenant, now, among: Q) -> Q | None:
    """Clients whose last re-workable call is younger than its outcome's hours, or who had the day's allowance."""
    rule = rework_rule(tenant)
    if not rule["hours"]:
        return None
    history = DialerCallEvent.objects.filter(
        tenant=tenant, event=DialerCallEvent.Event.HISTORY, client__isnull=False
    ).filter(among)
    q = None
    for hours in sorted(set(rule["hours"].values())):
        statuses = [status for status, h in rule["hours"].items() if h == hours]
        recent = history.filter(status__in=statuses, received_at__gt=now - datetime.timedelta(hours=hours))
        part = Q(pk__in=recent.values("client_id"))
        q = part if q is None else q | part
    if rule["max_per_day"]:
        today = (
            history.filter(status__in=list(rule["hours"]), received_at__gte=_midnight(now))
            .values("client_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=rule["max_per_day"])
            .values("client_id")
        )
        q |= Q(pk__in=today)
    return q


def conditions(tenant, now, among: Q) -> list[tuple[str, Q]]:
    """The holds, in order: a callback scheduled for later (from whoever registered hooks.dial_holds: the
    atendimento), then the re-work rule."""
    result = []
    for hook in hooks.dial_holds:
        q = hook(tenant, now, among)
        if q is not None:
            result.append((CALLBACK, q))
    rework = rework_q(tenant, now, among)
    if rework is not None:
        result.append((REWORK, rework))
    return result


def rework_note(rule: dict, event) -> str | None:
    """The timeline line for a call the rule (rework_rule) re-queues: "volta à lista em 20/04 14:00 (ocupado)"."""
    hours = rule["hours"].get(str(event.status))
    if not hours:
        return None
    label = next(label for _k, statuses, label in OUTCOMES.values() if str(event.status) in statuses)
    at = timezone.localtime(event.received_at + datetime.timedelta(hours=hours))
    return _("Reciclagem: volta à lista em %(at)s (%(outcome)s).") % {
        "at": at.strftime("%d/%m %H:%M"),
        "outcome": label,
    }
