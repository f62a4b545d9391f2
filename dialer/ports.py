"""The dialer's side of core's ports: what the atendimento asks it for without importing it (the calls
connected to an operator's agent, a tabulação sent back as the call's qualification). DialerConfig.ready()
provides them."""

import datetime

from django.conf import settings
from django.utils import timezone

from common.parsing import format_phone
from core.services import CallNotQualified, CallRecording, ConnectedCall, RecordingUnavailable
from dialer import connection, live, qualifications
from dialer.calls import resolve_client
from dialer.client import phone_e164
from dialer.errors import DialerError, NotFoundError
from dialer.models import DialerCallEvent


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


def connected_calls_pushed() -> bool:
    return live.available()


def connected_call_waiter(tenant_id: int, agent_id: str):
    return live.waiter(tenant_id, agent_id)


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
