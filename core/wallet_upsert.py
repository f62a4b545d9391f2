"""The wallet upsert: a batch of validated import rows written, clients upserted by external_id, phones added,
títulos upserted, in two dialects.

On PostgreSQL the rows reach the database through COPY into temporary tables and are written with a few set-based
statements (upsert_with_copy); elsewhere (SQLite, the demo) through the ORM's bulk upserts (upsert_with_orm). upsert()
picks one by the connection's vendor; tests/core/test_wallet_upsert_parity.py feeds both the same batches (new
clients, existing ones changed or not, repeated phones, paid títulos) and asserts the same stored wallet.
Parsing and validating the file, and what surrounds the write (transactions, "não ligar"), are core.importing's.
"""

import dataclasses
from decimal import Decimal

from django.db import connection
from django.db.models import F
from django.utils import timezone

from core.models import Client, ClientPhone, Debt
from core.search import client_search_text

# The client's columns a wallet row carries besides its external_id, creditor and CPF (the import's file columns
# map onto these: core.importing.CLIENT_COLUMNS).
CLIENT_FIELDS = ["name", "email", "street", "number", "complement", "district", "city", "state", "postal_code", "notes"]
CLIENT_UPDATE_FIELDS = ["creditor", "name", "cpf", *CLIENT_FIELDS[1:]]


@dataclasses.dataclass
class WalletRow:
    line: int
    external_id: str
    creditor_id: int
    cpf: str
    client: dict
    phones: list[tuple[str, bool]]  # (E.164, is mobile)
    debt: dict | None
    do_not_call: str = ""  # a DoNotCallReason; a blank cell never clears an earlier mark
    # What was skipped and reported without refusing the row (a phone that cannot be dialled).
    warnings: list[str] = dataclasses.field(default_factory=list)


class WalletBatch:
    """Rows of one write grouped by client: one client row, its phones in file order, its títulos."""

    def __init__(self, rows: list[WalletRow]):
        self.first_rows: dict[str, WalletRow] = {}
        self.phones: dict[str, list[tuple[str, bool]]] = {}
        self.debts: dict[str, list[dict]] = {}
        for row in rows:
            self.first_rows.setdefault(row.external_id, row)
            phones = self.phones.setdefault(row.external_id, [])
            phones.extend(p for p in row.phones if p not in phones)
            if row.debt:
                self.debts.setdefault(row.external_id, []).append(row.debt)

    def new_client_summary(self, external_id: str) -> tuple:
        """(open balance, oldest open due date, main phone, active phones, situation) of a client that is new:
        its títulos and phones are all in this batch, so its maintained columns are known before it is written."""
        debts = self.debts.get(external_id, [])
        open_debts = [d for d in debts if d["paid_amount"] < d["original_amount"]]
        balance = sum((d["original_amount"] - d["paid_amount"] for d in open_debts), Decimal("0"))
        oldest = min((d["due_date"] for d in open_debts), default=None)
        phones = self.phones[external_id]
        status = Client.Status.PAID if debts and not open_debts else Client.Status.OPEN
        return balance, oldest, phones[0][0] if phones else "", len(phones), status


def upsert(tenant, batch: WalletBatch) -> None:
    """Write a batch (call inside a transaction): on PostgreSQL through COPY and set-based statements, elsewhere
    through the ORM. Both leave the same wallet."""
    if connection.vendor == "postgresql":
        upsert_with_copy(tenant, batch)
    else:
        upsert_with_orm(tenant, batch)


def debt_status(debt: dict) -> str:
    return Debt.Status.PAID if debt["paid_amount"] >= debt["original_amount"] else Debt.Status.OPEN


def upsert_with_orm(tenant, batch: WalletBatch) -> None:
    """The ORM's way (SQLite, the demo): bulk upserts, then every client of the batch recounted."""
    clients = Client.objects.bulk_create(
        [
            Client(tenant=tenant, external_id=r.external_id, creditor_id=r.creditor_id, cpf=r.cpf, **r.client)
            for r in batch.first_rows.values()
        ],
        update_conflicts=True,
        unique_fields=["tenant", "external_id"],
        update_fields=CLIENT_UPDATE_FIELDS,
    )
    by_external = {c.external_id: c.pk for c in clients}
    if any(pk is None for pk in by_external.values()):  # backends that do not return ids from an upsert
        by_external = dict(
            Client.objects.filter(tenant=tenant, external_id__in=list(batch.first_rows)).values_list(
                "external_id", "pk"
            )
        )
    ClientPhone.objects.bulk_create(
        [
            ClientPhone(
                tenant=tenant,
                client_id=by_external[external_id],
                number=number,
                priority=priority,
                kind=ClientPhone.Kind.MOBILE if mobile else ClientPhone.Kind.LANDLINE,
                whatsapp=mobile,
            )
            for external_id, phones in batch.phones.items()
            for priority, (number, mobile) in enumerate(phones, 1)
        ],
        ignore_conflicts=True,
    )
    Debt.objects.bulk_create(
        [
            Debt(tenant=tenant, client_id=by_external[external_id], status=debt_status(debt), **debt)
            for external_id, debts in batch.debts.items()
            for debt in debts
        ],
        update_conflicts=True,
        unique_fields=["client", "contract_code", "installment_number"],
        update_fields=["installment_total", "due_date", "original_amount", "paid_amount"],
    )
    ids = list(by_external.values())
    Debt.objects.filter(client_id__in=ids, status=Debt.Status.OPEN, paid_amount__gte=F("original_amount")).update(
        status=Debt.Status.PAID
    )
    Client.objects.filter(pk__in=ids).refresh_summaries()
    Client.objects.filter(pk__in=ids).refresh_situation()


# PostgreSQL: the batch is copied into temporary tables (emptied at each commit), then written with a few
# set-based statements. A client that did not exist is inserted with its maintained columns already right;
# only the clients that existed are updated, and only where the file changed something.
STAGE_TABLES = [
    """CREATE TEMP TABLE IF NOT EXISTS wallet_stage_client (
        ord integer, external_id text, creditor_id bigint, cpf text, name text, email text, street text,
        number text, complement text, district text, city text, state text, postal_code text, notes text,
        search_text text, open_balance numeric, oldest_due_date date, main_phone text, active_phones integer,
        status text, client_id bigint, inserted boolean NOT NULL DEFAULT false
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS wallet_stage_phone (
        external_id text, number text, kind text, whatsapp boolean, priority integer
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS wallet_stage_debt (
        external_id text, contract_code text, installment_number integer, installment_total integer,
        due_date date, original_amount numeric, paid_amount numeric, status text
    ) ON COMMIT DELETE ROWS""",
]
STAGE_CLIENT_COLUMNS = [
    "ord",
    "external_id",
    "creditor_id",
    "cpf",
    *CLIENT_FIELDS,
    "search_text",
    "open_balance",
    "oldest_due_date",
    "main_phone",
    "active_phones",
    "status",
]
STAGE_PHONE_COLUMNS = ["external_id", "number", "kind", "whatsapp", "priority"]
DEBT_FIELDS = ["contract_code", "installment_number", "installment_total", "due_date", "original_amount", "paid_amount"]
STAGE_DEBT_COLUMNS = ["external_id", *DEBT_FIELDS, "status"]
# The file's client columns (and the search text made of them), compared to decide whether an existing client
# changes at all.
CLIENT_FILE_COLUMNS = ["creditor_id", "cpf", *CLIENT_FIELDS, "search_text"]
DEBT_FILE_COLUMNS = DEBT_FIELDS[2:]


def upsert_with_copy(tenant, batch: WalletBatch) -> None:
    """PostgreSQL's way: the batch copied into the stage tables, then written set-based (see above)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        # The statements are short and run once per chunk: compiling them (the planner's JIT, tempted by the
        # estimates of tables a large import has just filled) took longer than running them.
        cursor.execute("SET LOCAL jit = off")
        for statement in STAGE_TABLES:
            cursor.execute(statement)
        # Empty already, except when this write shares its transaction with an earlier one (the admin's rows).
        for table in ("wallet_stage_client", "wallet_stage_phone", "wallet_stage_debt"):
            cursor.execute(f"DELETE FROM {table}")
        raw = cursor.cursor
        with raw.copy(f"COPY wallet_stage_client ({', '.join(STAGE_CLIENT_COLUMNS)}) FROM STDIN") as copy:
            for ord_, (external_id, row) in enumerate(batch.first_rows.items()):
                client = row.client
                copy.write_row(
                    (
                        ord_,
                        external_id,
                        row.creditor_id,
                        row.cpf,
                        *(client[f] for f in CLIENT_FIELDS),
                        client_search_text(client["name"], client["city"]),
                        *batch.new_client_summary(external_id),
                    )
                )
        with raw.copy(f"COPY wallet_stage_phone ({', '.join(STAGE_PHONE_COLUMNS)}) FROM STDIN") as copy:
            for external_id, phones in batch.phones.items():
                for priority, (number, mobile) in enumerate(phones, 1):
                    kind = ClientPhone.Kind.MOBILE if mobile else ClientPhone.Kind.LANDLINE
                    copy.write_row((external_id, number, kind.value, mobile, priority))
        with raw.copy(f"COPY wallet_stage_debt ({', '.join(STAGE_DEBT_COLUMNS)}) FROM STDIN") as copy:
            for external_id, debts in batch.debts.items():
                for debt in debts:
                    copy.write_row((external_id, *(debt[f] for f in DEBT_FIELDS), debt_status(debt).value))

        columns, values, params = _insert_columns(
            Client,
            {
                "tenant": ("%s", tenant.pk),
                "created_at": ("%s", now),
                "updated_at": ("%s", now),
                **{f: (f"s.{f}", None) for f in STAGE_CLIENT_COLUMNS[1:]},
            },
        )
        cursor.execute(
            f"""
            WITH inserted AS (
                INSERT INTO core_client ({columns})
                SELECT {values} FROM wallet_stage_client s ORDER BY s.ord
                ON CONFLICT (tenant_id, external_id) DO NOTHING
                RETURNING id, external_id
            )
            UPDATE wallet_stage_client s SET client_id = i.id, inserted = true
            FROM inserted i WHERE s.external_id = i.external_id
            """,
            params,
        )
        existing = []
        if cursor.rowcount < len(batch.first_rows):  # some were there already: their ids, and what changed
            cursor.execute(
                """
                UPDATE wallet_stage_client s SET client_id =
                    (SELECT c.id FROM core_client c WHERE c.tenant_id = %s AND c.external_id = s.external_id)
                WHERE NOT s.inserted RETURNING s.client_id
                """,
                [tenant.pk],
            )
            existing = [client_id for (client_id,) in cursor.fetchall()]
            cursor.execute("ANALYZE wallet_stage_client")  # a temporary table has no statistics otherwise
            cursor.execute(
                f"""
                UPDATE core_client c SET {", ".join(f"{f} = s.{f}" for f in CLIENT_FILE_COLUMNS)}
                FROM wallet_stage_client s
                WHERE c.id = s.client_id AND NOT s.inserted
                  AND ({", ".join(f"c.{f}" for f in CLIENT_FILE_COLUMNS)})
                      IS DISTINCT FROM ({", ".join(f"s.{f}" for f in CLIENT_FILE_COLUMNS)})
                """
            )
        columns, values, params = _insert_columns(
            ClientPhone,
            {
                "tenant": ("%s", tenant.pk),
                "client": ("s.client_id", None),
                **{f: (f"p.{f}", None) for f in STAGE_PHONE_COLUMNS[1:]},
            },
        )
        cursor.execute(
            f"""
            INSERT INTO core_clientphone ({columns})
            SELECT {values} FROM wallet_stage_phone p JOIN wallet_stage_client s USING (external_id)
            ORDER BY s.ord, p.priority
            ON CONFLICT (client_id, number) DO NOTHING
            RETURNING client_id
            """,
            params,
        )
        changed = {client_id for (client_id,) in cursor.fetchall()}
        columns, values, params = _insert_columns(
            Debt,
            {
                "tenant": ("%s", tenant.pk),
                "client": ("s.client_id", None),
                **{f: (f"d.{f}", None) for f in STAGE_DEBT_COLUMNS[1:]},
            },
        )
        paid = "EXCLUDED.paid_amount >= EXCLUDED.original_amount"
        cursor.execute(
            f"""
            INSERT INTO core_debt ({columns})
            SELECT {values} FROM wallet_stage_debt d JOIN wallet_stage_client s USING (external_id)
            ORDER BY s.ord
            ON CONFLICT (client_id, contract_code, installment_number) DO UPDATE SET
                {", ".join(f"{f} = EXCLUDED.{f}" for f in DEBT_FILE_COLUMNS)},
                status = CASE WHEN core_debt.status = %s AND {paid} THEN %s ELSE core_debt.status END
            WHERE ({", ".join(f"core_debt.{f}" for f in DEBT_FILE_COLUMNS)})
                  IS DISTINCT FROM ({", ".join(f"EXCLUDED.{f}" for f in DEBT_FILE_COLUMNS)})
               OR (core_debt.status = %s AND {paid})
            RETURNING client_id
            """,
            [*params, Debt.Status.OPEN, Debt.Status.PAID, Debt.Status.OPEN],
        )
        changed.update(client_id for (client_id,) in cursor.fetchall())
    # Clients that existed and got a new phone or a changed título: recount them from the database (their
    # other títulos and phones count too). A file imported again unchanged rewrites nothing.
    recount = [client_id for client_id in existing if client_id in changed]
    if recount:
        Client.objects.filter(pk__in=recount).refresh_summaries()
        Client.objects.filter(pk__in=recount).refresh_situation()


def _insert_columns(model, given: dict[str, tuple[str, object]]) -> tuple[str, str, list]:
    """The column list, SELECT expressions and parameters of an INSERT … SELECT into `model`'s table.

    `given` maps field names to (SQL expression, parameter for "%s"); every other column gets its database
    default or, without one, the field's default: a column added to the model later is filled the way the
    ORM would fill it.
    """
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.name in given or field.attname in given:
            expression, param = given.get(field.name) or given[field.attname]
        elif field.has_db_default():
            continue
        else:
            expression, param = "%s", field.get_db_prep_save(field.get_default(), connection)
        columns.append(field.column)
        values.append(expression)
        if expression == "%s":
            params.append(param)
    return ", ".join(columns), ", ".join(values), params
