"""The dialer's entries on the client's timeline (registered from DialerConfig.ready), and one call's entries."""

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.parsing import format_phone
from core.timeline import Entry, older, user_name
from dialer import holds
from dialer.client import phone_e164
from dialer.models import DialerCallEvent, DialerExportItem, DialerRemoval

# 3C Plus call status ids, as the call-history events and the call reports carry them.
CALL_STATUS = {
    "5": gettext_lazy("não atendida"),
    "6": gettext_lazy("abandonada"),
    "7": gettext_lazy("atendida"),
    "8": gettext_lazy("falhou"),
    "9": gettext_lazy("caixa postal"),
}


def exports(client, before, limit):
    # The items' sent_at is left out of every index so that marking a batch sent stays a HOT update: the page is
    # picked among the client's items first, and only its rows are joined to their exports.
    newest = older(DialerExportItem.objects.filter(client=client, sent_at__isnull=False), "sent_at", before, limit)
    items = (
        DialerExportItem.objects.filter(pk__in=newest.values("pk"))
        .select_related("export", "export__requested_by")
        .order_by("-sent_at", "-id")
    )
    entries = []
    for item in items:
        entries.append(
            Entry(
                item.sent_at,
                "discador",
                "call_made",
                _("Enviado ao discador — %(list)s") % {"list": item.export.list_name},
                _("Campanha %(c)s · %(n)s telefone(s)")
                % {"c": item.export.campaign_name or item.campaign_id, "n": len(item.phones)},
                user_name(item.export.requested_by),
            )
        )
    return entries


def calls(client, before, limit):
    # The tenant comes with the events (its re-work rule, no query of its own).
    events = DialerCallEvent.objects.filter(client=client, event=DialerCallEvent.Event.HISTORY).select_related("tenant")
    rule = None
    entries = []
    for event in older(events, "received_at", before, limit):
        rule = rule or holds.rework_rule(event.tenant)
        parts = [str(CALL_STATUS.get(event.status, event.status or _("status desconhecido")))]
        if event.duration_seconds is not None:
            minutes, seconds = divmod(event.duration_seconds, 60)
            parts.append(_("duração %(m)d:%(s)02d") % {"m": minutes, "s": seconds})
        if event.qualification.get("name"):
            parts.append(_("qualificação %(q)s") % {"q": event.qualification["name"]})
        e164 = phone_e164(event.phone)
        if e164 or event.phone:
            parts.append(format_phone(e164) if e164 else event.phone)
        if note := holds.rework_note(rule, event):  # the re-work rule re-queues this outcome
            parts.append(note)
        entries.append(
            Entry(
                event.received_at,
                "ligacao",
                "phone_in_talk",
                _("Ligação do discador"),
                " · ".join(parts),
                event.agent_name or (_("agente %(a)s") % {"a": event.agent_id} if event.agent_id else ""),
                # Played through our endpoint: 3C Plus's own link needs the token.
                audio=reverse("attendance:recording", args=[client.pk, event.pk]) if event.recording_url else "",
            )
        )
    return entries


REMOVAL_ICON = {"pendente": "schedule", "removido": "phone_disabled", "falhou": "error"}


def removal_numbers(removal) -> str:
    return ", ".join(format_phone(phone_e164(c["phone"]) or c["phone"]) for c in removal.contacts)


def removals(client, before, limit):
    items = DialerRemoval.objects.filter(client=client).select_related("requested_by")
    entries = []
    for removal in older(items, "created_at", before, limit):
        detail = _("Campanha %(c)s · %(n)s · %(s)s") % {
            "c": removal.campaign_id,
            "n": removal_numbers(removal),
            "s": removal.get_status_display(),
        }
        if removal.reason:
            detail += f" · {removal.get_reason_display()}"
        if removal.error:
            detail += f" · {removal.error}"
        entries.append(
            Entry(
                removal.created_at,
                "discador",
                REMOVAL_ICON.get(removal.status, "phone_disabled"),
                _("Removido do discador") if removal.status == "removido" else _("Remoção do discador"),
                detail,
                user_name(removal.requested_by),
            )
        )
    return entries


def call_entries(tenant, call_id: str) -> list[Entry]:
    """The call's connection and its history (status, duration, recording), as the client's timeline shows them."""
    if not call_id:
        return []
    events = list(
        DialerCallEvent.objects.filter(tenant=tenant, event__in=list(DialerCallEvent.Event), call_id=call_id).order_by(
            "received_at", "id"
        )
    )
    connected = next((e for e in events if e.event == DialerCallEvent.Event.CONNECTED), None)
    history = [e for e in events if e.event == DialerCallEvent.Event.HISTORY]
    if not history and connected is not None and connected.telephony_id and connected.client_id:
        # 3C Plus may give the history event another id than the connected one; the telephony id ties them.
        history = list(
            DialerCallEvent.objects.filter(
                client_id=connected.client_id,
                event=DialerCallEvent.Event.HISTORY,
                telephony_id=connected.telephony_id,
            )
        )
    entries = []
    if connected is not None:
        phone = phone_e164(connected.phone)
        entries.append(
            Entry(
                connected.received_at,
                "ligacao",
                "call",
                _("Ligação conectada"),
                format_phone(phone) if phone else connected.phone,
                connected.agent_name or connected.agent_id,
            )
        )
    for event in history:
        parts = [str(CALL_STATUS.get(event.status, event.status or _("status desconhecido")))]
        if event.duration_seconds is not None:
            minutes, seconds = divmod(event.duration_seconds, 60)
            parts.append(_("duração %(m)d:%(s)02d") % {"m": minutes, "s": seconds})
        entries.append(
            Entry(
                event.received_at,
                "ligacao",
                "phone_in_talk",
                _("Ligação encerrada"),
                " · ".join(parts),
                event.agent_name or event.agent_id,
                link=event.recording_url,
                link_label=_("ouvir gravação") if event.recording_url else "",
            )
        )
    return entries
