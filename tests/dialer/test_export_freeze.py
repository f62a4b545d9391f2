"""The freeze's two implementations (a PostgreSQL statement and the portable one SQLite runs) give the same items
and the same counts on the same data: each is checked against the rule's own preview at the export's instant."""

import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from core.models import Client
from core.seeding import seed_wallet
from dialer import eligibility
from dialer.exports import freeze
from dialer.models import DialerExport, DialerExportItem
from tests.dialer.test_eligibility import one_of_each

IMPLEMENTATIONS = [
    pytest.param(freeze.freeze_chunk_portable, id="portable"),
    pytest.param(
        freeze.freeze_chunk_postgresql,
        id="postgresql",
        marks=pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL statement"),
    ),
]


def frozen(implementation, export, queryset, among=None):
    classified = eligibility.classify(queryset, export.tenant, export.campaign_id, export.created_at, among)
    with transaction.atomic():
        counts = implementation(export, classified)
    items = DialerExportItem.objects.filter(export=export)
    return counts, sorted(items.values_list("client_id", "campaign_id", "status", "phones", "error"))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_each_implementation_freezes_what_the_rule_lets_be_dialled(implementation, tenant, make_client, campaign_id):
    one_of_each(tenant, make_client, campaign_id)
    seed_wallet(tenant, 60, seed=7)
    export = DialerExport.objects.create(tenant=tenant, campaign_id=campaign_id, list_name="L", selection_frozen=False)
    clients = Client.objects.filter(tenant=tenant)
    expected = eligibility.preview(clients, tenant, campaign_id, export.created_at)
    # Sent now or held (window, cap, callback, re-work): both become items.
    to_send = [
        pk
        for pk, reason in eligibility.classify(clients, tenant, campaign_id, export.created_at).values_list(
            "pk", "skip_reason"
        )
        if reason == eligibility.SEND or eligibility.is_held(reason)
    ]

    counts, items = frozen(implementation, export, clients)

    assert (counts["selected"], counts["to_send"], counts["phones"], counts["balance"]) == (
        expected["selected"],
        expected["to_send"],
        expected["phones"],
        expected["balance"],
    )
    assert counts["skipped"] == expected["skipped"] and len(expected["skipped"]) > 5
    assert items == sorted((pk, campaign_id, DialerExportItem.Status.PENDING, [], "") for pk in to_send)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_each_implementation_freezes_a_chunk_again_without_duplicates(implementation, tenant, campaign_id):
    seed_wallet(tenant, 40, seed=3)
    export = DialerExport.objects.create(tenant=tenant, campaign_id=campaign_id, list_name="L", selection_frozen=False)
    clients = Client.objects.filter(tenant=tenant).order_by("pk")
    middle = clients.values_list("pk", flat=True)[19]
    among = Q(client_id__lte=middle)

    _counts, first = frozen(implementation, export, clients.filter(pk__lte=middle), among)
    _counts, again = frozen(implementation, export, clients.filter(pk__lte=middle), among)

    assert first == again and first, "a chunk redone after a crash adds nothing"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="both implementations run only on PostgreSQL")
def test_both_implementations_agree_on_the_same_data(tenant, make_client, campaign_id):
    one_of_each(tenant, make_client, campaign_id)
    seed_wallet(tenant, 60, seed=11)
    clients = Client.objects.filter(tenant=tenant)
    first = DialerExport.objects.create(tenant=tenant, campaign_id=campaign_id, list_name="L", selection_frozen=False)
    second = DialerExport.objects.create(tenant=tenant, campaign_id=campaign_id, list_name="L", selection_frozen=False)
    DialerExport.objects.filter(pk=second.pk).update(created_at=first.created_at)  # the same instant for the rule
    second.refresh_from_db()
    results = [
        frozen(freeze.freeze_chunk_portable, first, clients),
        frozen(freeze.freeze_chunk_postgresql, second, clients),
    ]
    (portable_counts, portable_items), (postgresql_counts, postgresql_items) = results
    assert portable_counts == postgresql_counts
    assert portable_items == postgresql_items


def _freeze_queries(tenant, campaign_id, selection):
    export = DialerExport.objects.create(tenant=tenant, campaign_id=campaign_id, list_name="L", selection_frozen=False)
    with CaptureQueriesContext(connection) as queries:
        export = freeze.freeze(export, selection)
    return export, queries.captured_queries


def test_the_freeze_of_a_small_selection_reads_the_selection_not_the_tenant(tenant, campaign_id, monkeypatch):
    """Five clients picked in a tenant of 300, in chunks of 10: the freeze cuts its chunks on the selection's ids,
    so it runs as many statements as for the same five clients in a tenant of 30 (one chunk), where walking the
    tenant cost one chunk per 10 of its clients."""
    monkeypatch.setattr(freeze, "FREEZE_CHUNK", 10)
    seed_wallet(tenant, 30, seed=5)
    ids = list(Client.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True)[::7])[:5]
    _small, small_queries = _freeze_queries(tenant, campaign_id, Client.objects.filter(tenant=tenant, pk__in=ids))

    seed_wallet(tenant, 270, seed=6)
    picked = Client.objects.filter(tenant=tenant, pk__in=ids)
    big, big_queries = _freeze_queries(tenant, campaign_id, picked)

    assert len(big_queries) <= len(small_queries) <= 12  # (the first run may also warm a cache)
    assert (big.selected_count, big.prepare_done, big.prepare_total) == (5, 5, 5)
    assert big.frozen_up_to == max(ids)
    frozen = set(DialerExportItem.objects.filter(export=big).values_list("client_id", flat=True))
    assert frozen == set(eligibility.eligible(picked, tenant, campaign_id, big.created_at).values_list("pk", flat=True))


def test_a_selection_of_many_chunks_is_frozen_whole_once(tenant, campaign_id, monkeypatch):
    monkeypatch.setattr(freeze, "FREEZE_CHUNK", 7)
    seed_wallet(tenant, 60, seed=9)
    selection = Client.objects.filter(tenant=tenant, pk__in=Client.objects.filter(tenant=tenant).values("pk")[5:50])
    export, _queries = _freeze_queries(tenant, campaign_id, selection)
    expected = eligibility.preview(selection, tenant, campaign_id, export.created_at)
    assert (export.selected_count, export.to_send_count) == (45, expected["to_send"])
    assert export.prepare_done == export.prepare_total == 45
    assert DialerExportItem.objects.filter(export=export).count() == expected["to_send"]
