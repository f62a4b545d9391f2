"""The dialer's box of the Carteira ("enviado ao discador") wraps the wallet's filter: the page and the worker's
replay of a stored selection pick the same clients, and a selection stored before the typed filter replays too."""

import datetime

from django.utils import timezone

from dialer.exports.selection import CarteiraSelection
from dialer.models import DialerExport, DialerExportItem

CHANGELIST = "/admin/core/client/"


def test_the_page_and_the_replay_agree_on_the_dialers_box(client, tenant_admin, tenant, make_client, campaign_id):
    never, recent, old = make_client(name="Nunca"), make_client(name="Ontem"), make_client(name="Mês passado")
    export = DialerExport.objects.create(tenant=tenant, campaign_id=campaign_id, list_name="L")
    for debtor, hours in ((recent, 20), (old, 24 * 30)):
        DialerExportItem.objects.create(
            tenant=tenant,
            export=export,
            client=debtor,
            campaign_id=campaign_id,
            status=DialerExportItem.Status.SENT,
            sent_at=timezone.now() - datetime.timedelta(hours=hours),
        )
    client.force_login(tenant_admin)
    expected = {"nunca": {never.pk}, "24h": {recent.pk}, "7d": {recent.pk}, "": {never.pk, recent.pk, old.pk}}
    for value, pks in expected.items():
        query = f"discador={value}&uf=&o=-1"
        shown = set(client.get(f"{CHANGELIST}?{query}").context["cl"].queryset.values_list("pk", flat=True))
        stored = CarteiraSelection.from_query(query).to_json()
        replayed = set(CarteiraSelection.from_json(stored).select(tenant).values_list("pk", flat=True))
        assert shown == replayed == pks, value
        assert stored == ({"filtros": f"discador={value}"} if value else {"filtros": ""})


def test_a_selection_stored_as_the_pages_raw_query_string_replays(tenant, make_client):
    picked, _other = make_client(name="Escolhido", state="SP"), make_client(name="Outro", state="SP")
    stored = {"filtros": "uf=SP&o=-2.1&p=2&discador=nunca", "ids": [str(picked.pk)]}
    assert [c.pk for c in CarteiraSelection.from_json(stored).select(tenant)] == [picked.pk]
