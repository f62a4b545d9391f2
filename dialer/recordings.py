"""A call's recording, streamed from 3C Plus for the atendimento's player."""

from dialer import tenant_api
from dialer.errors import DialerError, NotConfiguredError, NotFoundError
from dialer.models import DialerCallEvent
from dialer.types import CallRecording


def call_recording(tenant, client, call: int, range_header: str = "") -> CallRecording | None:
    """Streamed from 3C Plus with the tenant's token (GET /calls/{history id}/recording); the browser never sees
    3C Plus's URL or the token. Only a call on the client's timeline that 3C Plus says was recorded; None when there
    is none. Raises DialerError when 3C Plus has it but could not give it now."""
    event = (
        DialerCallEvent.objects.filter(tenant=tenant, client=client, pk=call, event=DialerCallEvent.Event.HISTORY)
        .exclude(recording_url="")
        .only("call_id")
        .first()
    )
    if event is None:
        return None
    try:
        api = tenant_api.api_for(tenant)
    except NotConfiguredError:  # no 3C Plus connection (any more): nothing to play here
        return None
    try:
        recording = api.recording(event.call_id, range_header)
    except NotFoundError:
        api.close()
        return None
    except DialerError:
        api.close()
        raise

    def chunks():
        try:
            yield from recording.chunks
        finally:
            recording.close()
            api.close()

    return CallRecording(event.call_id, recording.status, recording.headers, chunks())
