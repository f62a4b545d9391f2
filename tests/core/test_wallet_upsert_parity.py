"""The wallet upsert's two dialects agree: COPY and set-based statements (PostgreSQL) and the ORM store one wallet.

core.wallet_upsert.upsert() runs the COPY path on PostgreSQL and the ORM elsewhere, so a run on one database
proves only one of them. Each implementation gets the same batches here, parsed as the import parses a file: new
clients (several títulos of one client, a phone repeated across its rows, a título already paid, a client with no
título), then the same clients again (changed, unchanged, a título paid off or paid less, a new título and a new
phone, a phone the operators turned off, a título in an agreement) beside a client the file does not name. Each
must leave the wallet the import promises; on PostgreSQL both run, and the stored wallets are compared whole.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction

from core import wallet_upsert
from core.importing import CLIENT_COLUMNS, WalletRowParser
from core.models import Client, ClientPhone, Debt
from core.wallet_upsert import CLIENT_FIELDS, WalletBatch
from tests.conftest import valid_cpf

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
IMPLEMENTATIONS = [
    pytest.param(wallet_upsert.upsert_with_orm, id="orm"),
    pytest.param(wallet_upsert.upsert_with_copy, id="copy", marks=postgresql_only),
]
TODAY = datetime.date.today()


def row(external_id, n, **cells):
    return {
        "external_id": external_id,
        "nome": f"Cliente {external_id}",
        "cpf": valid_cpf(n),
        "credor": "BANCO HORIZONTE",  # any case
        "telefones": "",
        "contrato": "CT-1",
        "parcela": "1",
        "total_parcelas": "1",
        "vencimento": (TODAY - datetime.timedelta(days=30 * n)).strftime("%d/%m/%Y"),
        "valor_original": "100,00",
        "valor_pago": "0",
        **cells,
    }


# Maria's client columns, as each of her rows repeats them: before, and changed (a control character stripped).
MARIA = {
    "nome": "Maria d'Ávila Ω",
    "email": "Maria@Exemplo.com",
    "uf": "sp",
    "cidade": "São Paulo",
    "complemento": "apto\x0712",
    "observacoes": "🙂 " + "nota " * 1_000,
    "total_parcelas": "2",
}
MARIA_CHANGED = {**MARIA, "nome": "Maria de Ávila", "cidade": "Campinas", "complemento": "apto 12"}
FIRST = [
    row("E1", 1, **MARIA, telefones="(11) 98765-4321; 11 3333-4444"),
    row(
        "E1",
        1,
        **MARIA,
        telefones="11 3333-4444 / 11 97777-0000",
        parcela="2",
        valor_original="1.234,56",
        valor_pago="34,56",
    ),
    row("E2", 2, telefones="11 96666-1111", valor_pago="100"),  # paid already
    row("E3", 3, telefones="11 95555-2222", contrato="", vencimento="", valor_original=""),  # no título
    row("E4", 4, nome="N" * 200, telefones="11 94444-3333", valor_original="0,01"),
]
# The same clients again; Z is not in the file.
SECOND = [
    row("E1", 1, **MARIA_CHANGED, telefones="11 91234-5678; (11) 98765-4321", valor_pago="100"),  # paid off
    row("E1", 1, **MARIA_CHANGED, parcela="2", valor_original="1.234,56", valor_pago="34,56"),  # unchanged
    row("E1", 1, **{**MARIA_CHANGED, "total_parcelas": "1"}, contrato="CT-2", valor_original="50"),  # new
    row("E2", 2, telefones="11 96666-1111", valor_pago="0"),  # paid less than before
    row("E3", 3, telefones="11 95555-2222"),  # its first título
    row("E4", 4, nome="N" * 200, telefones="11 94444-3333", valor_original="0,01", valor_pago="0,01"),
]


def parsed(tenant, rows):
    parser = WalletRowParser(tenant)
    try:
        return [parser.parse(dict(cells), line) for line, cells in enumerate(rows, 2)]
    finally:
        parser.close()


def write(implementation, tenant, rows):
    with transaction.atomic():
        implementation(tenant, WalletBatch(parsed(tenant, rows)))


def touch_between_batches(tenant):
    """What people do between two imports: a number marked wrong, a título put in an agreement."""
    ClientPhone.objects.filter(client__external_id="E1", number="+551133334444").update(active=False)
    Debt.objects.filter(client__external_id="E4").update(status=Debt.Status.IN_AGREEMENT)


def wallet(tenant):
    """The tenant's clients, phones and títulos, ids and timestamps left out: (key, columns) pairs sorted by key,
    each phone and título keyed by its client's external_id."""
    ignore = {"id", "tenant_id", "client_id", "created_at", "updated_at"}
    by_id = dict(Client.objects.filter(tenant=tenant).values_list("pk", "external_id"))

    def rows(queryset, key):
        found = [
            (
                (by_id.get(values.get("client_id"), ""), *[values[k] for k in key]),
                {k: v for k, v in values.items() if k not in ignore},
            )
            for values in queryset.filter(tenant=tenant).values()
        ]
        return sorted(found, key=lambda item: item[0])

    return {
        "clients": rows(Client.objects, ["external_id"]),
        "phones": rows(ClientPhone.objects, ["number"]),
        "debts": rows(Debt.objects, ["contract_code", "installment_number"]),
    }


def run(implementation, tenant):
    write(implementation, tenant, FIRST)
    first = wallet(tenant)
    touch_between_batches(tenant)
    write(implementation, tenant, SECOND)
    return first, wallet(tenant)


@pytest.fixture
def outside_the_file(tenant, creditor, make_client):
    return make_client(name="Fora do arquivo", external_id="Z", cpf=valid_cpf(99), phones=("+5511900009999",))


def test_the_upsert_writes_the_client_columns_the_import_reads():
    assert CLIENT_FIELDS == ["name", *[f for f in CLIENT_COLUMNS.values() if f != "name"]]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_each_implementation_leaves_the_wallet_the_import_promises(implementation, tenant, outside_the_file):
    first, second = run(implementation, tenant)

    def clients(state):
        return {values["external_id"]: values for _key, values in state["clients"]}

    def phones(state, external_id):
        return [
            (values["number"], values["priority"], values["active"], values["kind"], values["whatsapp"])
            for key, values in sorted(state["phones"], key=lambda item: (item[1]["priority"], item[0]))
            if key[0] == external_id
        ]

    def debts(state, external_id):
        return {
            (values["contract_code"], values["installment_number"]): (
                values["original_amount"],
                values["paid_amount"],
                values["status"],
                values["installment_total"],
            )
            for key, values in state["debts"]
            if key[0] == external_id
        }

    # New clients: written whole, with their maintained columns right.
    e1 = clients(first)["E1"]
    assert (e1["name"], e1["email"], e1["state"], e1["complement"]) == (
        "Maria d'Ávila Ω",
        "Maria@Exemplo.com",
        "SP",
        "apto12",
    )
    assert e1["search_text"] and "sao paulo" in e1["search_text"]
    assert (e1["open_balance"], e1["main_phone"], e1["active_phones"], e1["status"]) == (
        Decimal("1300.00"),
        "+5511987654321",
        3,
        Client.Status.OPEN,
    )
    assert phones(first, "E1") == [
        ("+5511987654321", 1, True, "celular", True),
        ("+551133334444", 2, True, "fixo", False),
        ("+5511977770000", 3, True, "celular", True),
    ]
    assert clients(first)["E2"]["status"] == Client.Status.PAID and clients(first)["E2"]["open_balance"] == 0
    assert clients(first)["E3"]["status"] == Client.Status.OPEN and debts(first, "E3") == {}
    assert len(clients(first)["E4"]["name"]) == 200
    # The same clients again.
    e1 = clients(second)["E1"]
    assert (e1["name"], e1["city"], e1["complement"]) == ("Maria de Ávila", "Campinas", "apto 12")
    assert "campinas" in e1["search_text"]
    assert debts(second, "E1") == {
        ("CT-1", 1): (Decimal("100.00"), Decimal("100.00"), Debt.Status.PAID, 2),
        ("CT-1", 2): (Decimal("1234.56"), Decimal("34.56"), Debt.Status.OPEN, 2),
        ("CT-2", 1): (Decimal("50.00"), Decimal("0.00"), Debt.Status.OPEN, 1),
    }
    assert phones(second, "E1") == [
        ("+5511912345678", 1, True, "celular", True),  # new, beside the one already first (by number here)
        ("+5511987654321", 1, True, "celular", True),
        ("+551133334444", 2, False, "fixo", False),  # marked wrong: stays off
        ("+5511977770000", 3, True, "celular", True),
    ]
    assert (e1["open_balance"], e1["main_phone"], e1["active_phones"]) == (Decimal("1250.00"), "+5511987654321", 3)
    assert debts(second, "E2") == {("CT-1", 1): (Decimal("100.00"), Decimal("0.00"), Debt.Status.PAID, 1)}
    assert debts(second, "E3")[("CT-1", 1)][2] == Debt.Status.OPEN and clients(second)["E3"]["open_balance"] == 100
    assert debts(second, "E4")[("CT-1", 1)][2] == Debt.Status.IN_AGREEMENT  # an agreement is not undone
    assert clients(second)["Z"] == clients(first)["Z"]  # not in the file: untouched
    assert sorted(clients(second)) == ["E1", "E2", "E3", "E4", "Z"]


@postgresql_only
def test_both_implementations_leave_the_same_wallet(tenant, outside_the_file):
    def outcome(implementation):
        with transaction.atomic():  # a savepoint: each implementation starts from the same database
            result = run(implementation, tenant)
            transaction.set_rollback(True)
        return result

    copy = outcome(wallet_upsert.upsert_with_copy)
    orm = outcome(wallet_upsert.upsert_with_orm)
    assert copy[0] == orm[0]  # new clients
    assert copy[1] == orm[1]  # the same clients again
    assert list(Client.objects.filter(tenant=tenant).values_list("external_id", flat=True)) == ["Z"]
