"""One call, three ids: which stored call ids are the same 3C Plus call.

3C Plus names one call differently on each path. The connected event's id is "call:{company}:{campaign}:
{telephony_id}" and carries the telephony_id and the sid; the history event has its own 24-hex id beside the
telephony_id; the GET /calls report has the history's id and the sid. So the connected event and the history
share the telephony_id, the report and the history the id, the report and the connected event the sid. A
tabulação recorded under any of them (the operator's page uses the connected id, carried by the screen pop) is
the call's tabulação.
"""

import re

from django.db.models import Q

from dialer.models import DialerCallEvent

# The telephony_id is the last part of a connected event's id: known even before any event is stored.
CONNECTED_ID = re.compile(r"call:[^:]*:[^:]*:(?P<telephony_id>[^:]+)")


def same_call_ids(tenant, call_id: str, *, telephony_id: str = "", sid: str = "") -> list[str]:
    """Every call id stored (or given) for this call, the connected event's first when it is known: that one is
    the call's key (the page's tabulação carries it). At most two indexed queries."""
    call_id, telephony_id, sid = (call_id or "")[:120], (telephony_id or "")[:120], (sid or "")[:120]
    telephony_ids, sids = {telephony_id} - {""}, {sid} - {""}
    match = CONNECTED_ID.fullmatch(call_id)
    if match:
        telephony_ids.add(match["telephony_id"])
    events = DialerCallEvent.objects.filter(tenant=tenant)
    # Both kinds named: the unique index (tenant, event, call_id) finds each with one probe.
    by_id = events.filter(event__in=DialerCallEvent.Event.values, call_id=call_id)
    rows = list(by_id.values_list("event", "call_id", "telephony_id", "sid")) if call_id else []
    telephony_ids |= {row[2] for row in rows if row[2]}
    sids |= {row[3] for row in rows if row[3]}
    # Each side spelled as its partial index's condition, so both indexes serve it.
    joined = (Q(telephony_id__in=telephony_ids) & ~Q(telephony_id="")) | (Q(sid__in=sids) & ~Q(sid=""))
    if telephony_ids or sids:
        rows += events.filter(joined).values_list("event", "call_id", "telephony_id", "sid")[:20]
    connected = sorted({row[1] for row in rows if row[0] == DialerCallEvent.Event.CONNECTED})
    others = sorted(({row[1] for row in rows} | {call_id}) - set(connected) - {""})
    return connected + others
