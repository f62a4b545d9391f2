"""seed_wallet: what it makes is consistent, and the bulk load into an empty wallet puts every index back."""

import pytest
from django.db import connection

from core import seeding
from core.models import Client, ClientPhone, Debt
from tenants.models import Tenant

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY and index building: PostgreSQL")


def wallet_indexes() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [list(seeding.WALLET_TABLES)]
        )
        return set(cursor.fetchall())


def test_each_client_has_its_phones_once_and_a_balance_that_is_the_sum_of_its_debts(db):
    tenant = Tenant.objects.create(slug="seed", name="Seed")
    seeding.seed_wallet(tenant, 300, seed=11)
    assert Client.objects.filter(tenant=tenant).count() == 300
    for client in Client.objects.filter(tenant=tenant).prefetch_related("phones", "debts")[:300]:
        numbers = [p.number for p in client.phones.all()]
        assert len(numbers) == len(set(numbers)) == client.active_phones
        assert client.open_balance == sum(d.original_amount for d in client.debts.all())
        assert client.main_phone == (min(client.phones.all(), key=lambda p: p.priority).number if numbers else "")


def test_a_client_never_gets_the_same_mobile_twice():
    """The draw that once gave a client its first mobile twice (and broke the unique key): 192 random bits built
    so that the second mobile's bits spell the first's, and the shape asks for two mobiles and a landline."""
    second = 1234567  # r >> 87
    low = (second - second * 2**26) % 10**7  # bits 61..86, so that (r >> 61) % 10**7 == second % 10**7
    r = (second << 87) | (low << 61) | (((low >> 24) & 3) << 59)  # and the same digit after the 9
    r |= ((10 - ((r >> 59) << 7)) % 100) << 52  # shape 10
    faker = seeding.WalletFaker(1)
    faker.random.getrandbits = lambda bits: r
    _fields, phones, _debts = faker.client(1, [seeding.Creditor(pk=1)])
    assert len(phones) == 2 and phones[0][5] == "9" and phones[1][5] != "9"
    assert len(set(phones)) == len(phones)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_into_an_empty_wallet_keeps_every_index(monkeypatch):
    tenant = Tenant.objects.create(slug="bulk", name="Bulk")
    before = wallet_indexes()
    assert len(before) > 10
    loads = []
    real = seeding._bulk_copy
    monkeypatch.setattr(seeding, "_bulk_copy", lambda *args: loads.append(1) or real(*args))
    seeding.seed_wallet(tenant, 2_500, batch_size=500, seed=3, workers=2, bulk_minimum=1_000)
    assert loads == [1]  # the bulk path ran
    assert wallet_indexes() == before
    assert Client.objects.filter(tenant=tenant).count() == 2_500
    assert ClientPhone.objects.filter(tenant=tenant).count() > 2_500
    assert Debt.objects.filter(client__tenant=tenant).count() >= 2_500
    # Seeding again (the wallet is no longer empty) keeps the indexes up row by row.
    seeding.seed_wallet(tenant, 1_000, batch_size=500, seed=4, bulk_minimum=1_000)
    assert Client.objects.filter(tenant=tenant).count() == 3_500


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_that_fails_midway_leaves_nothing_and_every_index(monkeypatch):
    tenant = Tenant.objects.create(slug="bulk-fail", name="Bulk")
    before = wallet_indexes()
    real_copy, copied = seeding._copy_texts, []

    def broken_copy(raw, texts, progress):
        if len(copied) == 2:
            raise RuntimeError("o banco caiu no meio da carga")
        copied.append(texts[0])
        return real_copy(raw, texts, progress)

    monkeypatch.setattr(seeding, "_copy_texts", broken_copy)
    with pytest.raises(RuntimeError):
        seeding.seed_wallet(tenant, 3_000, batch_size=500, seed=5, workers=2, bulk_minimum=1_000)
    assert not Client.objects.exists() and not ClientPhone.objects.exists() and not Debt.objects.exists()
    assert wallet_indexes() == before
