"""The dialer's entries on the client's timeline (registered from DialerConfig.ready)."""

from django.utils.translation import gettext as _

from core.timeline import Entry, older, user_name
from dialer.models import DialerExportItem


def exports(client, before, limit):
    items = DialerExportItem.objects.filter(client=client, sent_at__isnull=False).select_related(
        "export", "export__requested_by"
    )
    entries = []
    for item in older(items, "sent_at", before, limit):
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
