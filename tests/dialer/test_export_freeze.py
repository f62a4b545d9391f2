"""The freeze's two implementations (a PostgreSQL statement and the portable one SQLite runs) give the same items
and the same counts on the same data: each is checked against the rule's own preview at the export's instant."""

import pytest
from django.db import connection, transaction
from django.db.models import Q

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
