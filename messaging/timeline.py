"""Messaging's entries on the client's timeline (the messages themselves are attendance's): channels the debtor
blocked."""

from django.utils.translation import gettext as _

from core.timeline import Entry, older
from messaging.models import OptOut


def opt_outs(client, before, limit):
    rows = older(OptOut.objects.filter(client=client), "created_at", before, limit)
    return [
        Entry(
            o.created_at,
            "mensagem",
            "block",
            _("%(c)s bloqueado pelo devedor") % {"c": o.get_channel_display()},
            o.reason,
        )
        for o in rows
    ]
