"""The dialer's side of core's ports: what the atendimento asks it for without importing it (the calls
connected to an operator's agent, a tabulação sent back as the call's qualification). DialerConfig.ready()
provides them."""

import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from common.parsing import format_phone
from core.services import CallNotQualified, CallOnLine, CallRecording, ConnectedCall, RecordingUnavailable
from core.timeline import Entry
from dialer import connection, live, qualifications
from dialer.calls import resolve_client
from dialer.client import phone_e164
from dialer.errors import DialerError, NotConfiguredError, NotFoundError
from dialer.models import DialerCallEvent
from dialer.timeline import CALL_STATUS


def writes_qualifications(tenant) -> bool:
    return qualifications.writes_qualifications(tenant)


def qualify_call(tenant, **call) -> None:
    try:
        qualifications.qualify_call(tenant, **call)
    except DialerError as error:
        raise CallNotQualified(error.message) from error


def _connected(tenant, agent_id: str):
    return DialerCallEvent.objects.filter(
        tenant=tenant, agent_id=agent_id, event=DialerCallEvent.Event.CONNECTED
    ).order_by("-id")


def last_connected_call(tenant, agent_id: str) -> int:
    return _connected(tenant, agent_id).values_list("id", flat=True).first() or 0


def next_connected_call(tenant, agent_id: str, after: int) -> ConnectedCall | None:
    # The oldest after `after`, so a console replays in order every call that connected while it was away;
    # calls older than the replay window are over by now, and a console back from hours asleep skips them.
    since = timezone.now() - datetime.timedelta(minutes=settings.ATTENDANCE_CALL_REPLAY_MINUTES)
    recent = _connected(tenant, agent_id).filter(id__gt=after, received_at__gte=since)
    event = recent.select_related("client").order_by("id").first()
    if event is None:
        return None
    if event.client_id is None:
        # The number was unknown when the call arrived; the client may have been found or added since.
        event.client = resolve_client(tenant, event)
        if event.client is not None:
            DialerCallEvent.objects.filter(pk=event.pk, client__isnull=True).update(client=event.client)
    phone = format_phone(phone_e164(event.phone) or "") or event.phone
    return ConnectedCall(id=event.pk, call_id=event.call_id, phone=phone, client=event.client)


def call_on_line(tenant, call_id: str) -> CallOnLine | None:
    # Both reads use the (tenant, event, call_id) unique index.
    events = DialerCallEvent.objects.filter(tenant=tenant, call_id=call_id)
    phone = events.filter(event=DialerCallEvent.Event.CONNECTED).values_list("phone", flat=True).first()
    if phone is None:
        return None
    over = events.filter(event=DialerCallEvent.Event.HISTORY).exists()
    return CallOnLine(phone=format_phone(phone_e164(phone) or "") or phone, live=not over)


def connected_calls_pushed() -> bool:
    return live.available()


def connected_call_waiter(tenant_id: int, agent_id: str):
    return live.waiter(tenant_id, agent_id)


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


def call_recording(tenant, client, call: int, range_header: str = "") -> CallRecording | None:
    """Streamed from 3C Plus with the tenant's token (GET /calls/{history id}/recording); the browser never sees
    3C Plus's URL or the token. Only a call on the client's timeline that 3C Plus says was recorded."""
    event = (
        DialerCallEvent.objects.filter(tenant=tenant, client=client, pk=call, event=DialerCallEvent.Event.HISTORY)
        .exclude(recording_url="")
        .only("call_id")
        .first()
    )
    if event is None:
        return None
    try:
        api = connection.api_for(tenant)
    except NotConfiguredError:  # no 3C Plus connection (any more): nothing to play here
        return None
    except DialerError as error:
        raise RecordingUnavailable(error.message) from error
    try:
        recording = api.recording(event.call_id, range_header)
    except NotFoundError:
        api.close()
        return None
    except DialerError as error:
        api.close()
        raise RecordingUnavailable(error.message) from error

    def chunks():
        try:
            yield from recording.chunks
        finally:
            recording.close()
            api.close()

    return CallRecording(event.call_id, recording.status, recording.headers, chunks())
