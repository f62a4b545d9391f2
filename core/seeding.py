"""Realistic fake wallets, fast: PostgreSQL COPY where available, bulk_create elsewhere."""

import datetime
import random
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from common.parsing import cpf_check_digits
from core.models import Client, ClientPhone, Creditor, Debt
from core.search import client_search_text

FIRST_NAMES = (
    "Ana Maria João José Antônio Francisco Carlos Paulo Pedro Lucas Luiz Marcos Luis Gabriel Rafael Daniel "
    "Marcelo Bruno Eduardo Felipe Raimundo Rodrigo Juliana Márcia Fernanda Patrícia Aline Sandra Camila "
    "Amanda Bruna Jéssica Letícia Júlia Luciana Vanessa Mariana Gabriela Vera Vitória Larissa Cláudia Beatriz"
).split()
LAST_NAMES = (
    "Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Costa Ribeiro Martins Carvalho "
    "Almeida Lopes Soares Fernandes Vieira Barbosa Rocha Dias Nascimento Andrade Moreira Nunes Marques Machado "
    "Mendes Freitas Cardoso Ramos Gonçalves Santana Teixeira"
).split()
CITIES = [
    ("São Paulo", "SP", "11"),
    ("Campinas", "SP", "19"),
    ("Rio de Janeiro", "RJ", "21"),
    ("Niterói", "RJ", "21"),
    ("Belo Horizonte", "MG", "31"),
    ("Curitiba", "PR", "41"),
    ("Londrina", "PR", "43"),
    ("Porto Alegre", "RS", "51"),
    ("Florianópolis", "SC", "48"),
    ("Salvador", "BA", "71"),
    ("Recife", "PE", "81"),
    ("Fortaleza", "CE", "85"),
    ("Brasília", "DF", "61"),
    ("Goiânia", "GO", "62"),
    ("Manaus", "AM", "92"),
    ("Belém", "PA", "91"),
]
STREETS = "Rua das Flores|Avenida Brasil|Rua XV de Novembro|Rua São José|Avenida Paulista|Rua da Paz".split("|")
DISTRICTS = "Centro|Jardim América|Vila Nova|Boa Vista|Santa Cruz|São Francisco".split("|")
DEMO_CREDITORS = [
    # name, max discount %, max installments, min installment, min entry %, interest %/month, fine %
    ("Banco Horizonte", "40", 12, "50.00", "10", "1.00", "2"),
    ("Varejo Sol Nascente", "30", 6, "30.00", "0", "2.00", "2"),
    ("Telefonia Conecta", "50", 10, "25.00", "5", "1.50", "2"),
]


def ensure_demo_creditors(tenant) -> list[Creditor]:
    creditors = []
    for name, discount, installments, min_installment, entry, interest, fine in DEMO_CREDITORS:
        creditor, _ = Creditor.objects.get_or_create(
            tenant=tenant,
            name=name,
            defaults={
                "max_discount_percent": Decimal(discount),
                "max_installments": installments,
                "min_installment_amount": Decimal(min_installment),
                "min_entry_percent": Decimal(entry),
                "monthly_interest_percent": Decimal(interest),
                "fine_percent": Decimal(fine),
                "fees_percent": Decimal("10"),
            },
        )
        creditors.append(creditor)
    return creditors


class WalletFaker:
    """Plausible clients from one random draw each: the generator, not the database, was the bottleneck."""

    def __init__(self, seed=None):
        self.random = random.Random(seed)
        self.today = timezone.localdate()
        self.due_dates = [self.today - datetime.timedelta(days=d) for d in range(-20, 901)]

    def client(self, client_id: int, creditors: list[Creditor]):
        """(client field values, [phone numbers], [debt tuples]) for one client."""
        r = self.random.getrandbits(192)
        last = len(LAST_NAMES)
        name = f"{FIRST_NAMES[r % len(FIRST_NAMES)]} {LAST_NAMES[(r >> 6) % last]} {LAST_NAMES[(r >> 12) % last]}"
        city, state, area = CITIES[(r >> 18) % len(CITIES)]
        base = f"{(r >> 22) % 999_999_999:09d}"
        shape = (r >> 52) % 100  # how many phones, and of which kind
        phones = []
        if shape >= 4:  # a few clients have no dialable phone at all
            phones.append(f"+55{area}9{6 + (r >> 59) % 4}{(r >> 61) % 10_000_000:07d}")
            second = f"+55{area}9{6 + (r >> 85) % 4}{(r >> 87) % 10_000_000:07d}"
            if shape < 60 and second != phones[0]:  # about one client in tens of millions drew the same mobile twice
                phones.append(second)
            if shape < 90:
                phones.append(f"+55{area}{2 + (r >> 111) % 4}{(r >> 113) % 10_000_000:07d}")
        installments = (1, 1, 2, 3)[(r >> 137) % 4]
        first = (r >> 139) % 901
        contract = f"CT{client_id:09d}"
        debts = []
        balance_cents = 0
        for number in range(installments):
            cents = 5_000 + ((r >> (149 + 13 * number)) % 8192) * 60
            balance_cents += cents
            due = self.due_dates[max(first - 30 * number, 0)]
            debts.append((contract, number + 1, installments, due, Decimal(cents).scaleb(-2)))
        fields = {
            "id": client_id,
            "creditor_id": creditors[(r >> 188) % len(creditors)].pk,
            "name": name,
            "cpf": base + cpf_check_digits(base),
            "email": f"cliente.{client_id}@exemplo.com.br",
            "external_id": f"EXT-{client_id}",
            "street": STREETS[shape % 6],
            "number": str(1 + (r >> 40) % 3000),
            "district": DISTRICTS[(r >> 44) % 6],
            "city": city,
            "state": state,
            "postal_code": f"{(r >> 24) % 100_000:05d}-{(r >> 30) % 1_000:03d}",
            "open_balance": Decimal(balance_cents).scaleb(-2),
            "oldest_due_date": debts[0][3],
            "main_phone": phones[0] if phones else "",
            "active_phones": len(phones),
        }
        return fields, phones, debts


CLIENT_COPY_COLUMNS = [
    "id",
    "tenant_id",
    "creditor_id",
    "name",
    "cpf",
    "email",
    "external_id",
    "street",
    "number",
    "complement",
    "district",
    "city",
    "state",
    "postal_code",
    "notes",
    "search_text",
    "status",
    "open_balance",
    "oldest_due_date",
    "main_phone",
    "active_phones",
    "created_at",
    "updated_at",
]
PHONE_COPY_COLUMNS = [
    "tenant_id",
    "client_id",
    "number",
    "kind",
    "whatsapp",
    "active",
    "deactivation_reason",
    "priority",
]
DEBT_COPY_COLUMNS = [
    "tenant_id",
    "client_id",
    "contract_code",
    "installment_number",
    "installment_total",
    "due_date",
    "original_amount",
    "paid_amount",
    "status",
]


def seed_wallet(
    tenant,
    clients: int,
    batch_size: int = 10_000,
    seed=None,
    progress=None,
    workers: int = 1,
    bulk_minimum: int | None = None,
) -> int:
    """Create `clients` fake clients with phones and debts in `tenant`; returns how many were made.

    On PostgreSQL, batches go through COPY and `workers` processes share the work (one per core
    keeps both the generator and the database busy). Into an empty wallet (a new database) at least
    `bulk_minimum` clients are loaded as pg_restore loads: see _bulk_load.
    """
    creditors = list(Creditor.objects.filter(tenant=tenant)) or ensure_demo_creditors(tenant)
    creditor_ids = [c.pk for c in creditors]
    sizes = [min(batch_size, clients - start) for start in range(0, clients, batch_size)]
    if connection.vendor != "postgresql":
        faker = WalletFaker(seed)
        for size in sizes:
            with transaction.atomic():
                _orm_batch(tenant, creditors, faker, size)
            if progress:
                progress(size)
        return clients
    if bulk_minimum is None:
        bulk_minimum = BULK_MINIMUM
    if clients >= bulk_minimum and not Client.objects.exists():
        _bulk_load(
            tenant.pk, creditor_ids, [(_batch_seed(seed, i), size) for i, size in enumerate(sizes)], progress, workers
        )
        return clients
    if workers <= 1:
        for index, size in enumerate(sizes):
            _copy_batch(tenant.pk, creditor_ids, _batch_seed(seed, index), size)
            if progress:
                progress(size)
        return clients
    from django.db import connections

    connections.close_all()  # children open their own connections
    with _generators(workers) as pool:
        jobs = [
            pool.submit(_copy_batch, tenant.pk, creditor_ids, _batch_seed(seed, index), size)
            for index, size in enumerate(sizes)
        ]
        for job in jobs:
            if progress:
                progress(job.result())
    return clients


# Below this many clients into an empty wallet, the indexes are kept up row by row (building them costs ~20 s at 1M).
BULK_MINIMUM = 200_000
WALLET_TABLES = (Client._meta.db_table, ClientPhone._meta.db_table, Debt._meta.db_table)


def _generators(workers: int):
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"))


def _bulk_load(tenant_id: int, creditor_ids: list[int], batches: list[tuple], progress, workers: int) -> None:
    """The whole seed in one transaction, as pg_restore loads a table: the wallet's secondary indexes dropped, every
    batch copied, the indexes built again from their own definitions, then committed. Keeping 13 indexes up row by
    row cost three quarters of the time; building them once costs a fifth. The primary and unique keys stay, so a
    generator bug still stops the load. Worker processes only generate text; this connection writes it all, holding
    the wallet tables locked (they are empty: there is nobody to wait). A crash or a kill rolls everything back,
    the indexes included: never a wallet without its indexes, never half a seed."""
    from django.db import connections

    if not connection.in_atomic_block:
        connections.close_all()  # the generators are forked before this process opens its connection
    with _generators(max(1, workers)) as pool:
        pool.submit(int).result()  # (a fork pool starts all its processes at the first job)
        _bulk_copy(pool, tenant_id, creditor_ids, batches, progress, workers)


def _bulk_copy(pool, tenant_id, creditor_ids, batches, progress, workers) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        _fast_copy_settings(cursor)
        cursor.execute(f"LOCK TABLE {', '.join(WALLET_TABLES)} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i"
            " JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = to_regnamespace(i.schemaname)"
            " JOIN pg_index x ON x.indexrelid = c.oid"
            " WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s) AND NOT x.indisunique",
            [list(WALLET_TABLES)],
        )
        secondary = cursor.fetchall()
        for name, _definition in secondary:
            cursor.execute(f'DROP INDEX "{name}"')
        raw = cursor.cursor
        pending = []
        for seed, size in batches:
            ids = _reserve_ids(Client._meta.db_table, size)
            pending.append(pool.submit(_batch_text, tenant_id, creditor_ids, seed, ids))
            if len(pending) > 2 * workers:  # a few batches ahead, no more: memory stays flat
                _copy_texts(raw, pending.pop(0).result(), progress)
        for job in pending:
            _copy_texts(raw, job.result(), progress)
        cursor.execute("SET LOCAL maintenance_work_mem TO '512MB'")
        for _name, definition in secondary:
            cursor.execute(definition)


def _copy_texts(raw_cursor, texts, progress) -> None:
    size, client_text, phone_text, debt_text = texts
    _copy(raw_cursor, Client._meta.db_table, CLIENT_COPY_COLUMNS, client_text)
    _copy(raw_cursor, ClientPhone._meta.db_table, PHONE_COPY_COLUMNS, phone_text)
    _copy(raw_cursor, Debt._meta.db_table, DEBT_COPY_COLUMNS, debt_text)
    if progress:
        progress(size)


def _batch_seed(seed, index):
    return None if seed is None else seed * 1_000_003 + index


def _reserve_ids(table: str, count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return [row[0] for row in cursor.fetchall()]


def _fast_copy_settings(cursor) -> None:
    # Fake data: a crash loses only fakes, so the commit need not wait for the WAL flush.
    cursor.execute("SET LOCAL synchronous_commit TO OFF")
    # Like pg_restore --disable-triggers: the generator makes every reference itself, so a
    # privileged role skips the per-row foreign-key triggers (about a third of the time).
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if cursor.fetchone()[0]:
        cursor.execute("SET LOCAL session_replication_role = replica")


def _copy_batch(tenant_id: int, creditor_ids: list[int], seed, size: int) -> int:
    """One batch through COPY, in a transaction of its own."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            _fast_copy_settings(cursor)
        texts = _batch_text(tenant_id, creditor_ids, seed, _reserve_ids(Client._meta.db_table, size))
        with connection.cursor() as cursor:
            _copy_texts(cursor.cursor, texts, None)
    return size


def _batch_text(tenant_id: int, creditor_ids: list[int], seed, client_ids: list[int]) -> tuple[int, str, str, str]:
    """(size, clients, phones, debts) as COPY text, built directly (the generated values need no escaping)."""
    faker = WalletFaker(seed)
    creditors = [Creditor(pk=pk) for pk in creditor_ids]
    now = timezone.now().isoformat()
    client_lines, phone_lines, debt_lines = [], [], []
    for client_id in client_ids:
        f, phones, debts = faker.client(client_id, creditors)
        client_lines.append(
            f"{client_id}\t{tenant_id}\t{f['creditor_id']}\t{f['name']}\t{f['cpf']}\t{f['email']}\t"
            f"{f['external_id']}\t{f['street']}\t{f['number']}\t\t{f['district']}\t{f['city']}\t{f['state']}\t"
            f"{f['postal_code']}\t\t{client_search_text(f['name'], f['city'])}\t{Client.Status.OPEN.value}\t"
            f"{f['open_balance']}\t{f['oldest_due_date']}\t"
            f"{f['main_phone']}\t{f['active_phones']}\t{now}\t{now}\n"
        )
        for priority, number in enumerate(phones, 1):
            mobile = number[5] == "9"
            phone_lines.append(
                f"{tenant_id}\t{client_id}\t{number}\t{'celular' if mobile else 'fixo'}\t"
                f"{'t' if mobile else 'f'}\tt\t\t{priority}\n"
            )
        for contract, number, total, due, amount in debts:
            debt_lines.append(
                f"{tenant_id}\t{client_id}\t{contract}\t{number}\t{total}\t{due}\t{amount}\t0\t"
                f"{Debt.Status.OPEN.value}\n"
            )
    return len(client_ids), "".join(client_lines), "".join(phone_lines), "".join(debt_lines)


def _copy(raw_cursor, table, columns, text):
    with raw_cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(text)


def _orm_batch(tenant, creditors, faker, size):
    start = (Client.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    clients, phones, debts = [], [], []
    for client_id in range(start, start + size):
        fields, client_phones, client_debts = faker.client(client_id, creditors)
        clients.append(Client(tenant=tenant, **fields))
        for priority, number in enumerate(client_phones, 1):
            kind = ClientPhone.Kind.MOBILE if number[5] == "9" else ClientPhone.Kind.LANDLINE
            phones.append(
                ClientPhone(
                    tenant=tenant,
                    client_id=client_id,
                    number=number,
                    kind=kind,
                    whatsapp=kind == ClientPhone.Kind.MOBILE,
                    priority=priority,
                )
            )
        for contract, number, total, due, amount in client_debts:
            debts.append(
                Debt(
                    tenant=tenant,
                    client_id=client_id,
                    contract_code=contract,
                    installment_number=number,
                    installment_total=total,
                    due_date=due,
                    original_amount=amount,
                )
            )
    Client.objects.bulk_create(clients, batch_size=1000)
    ClientPhone.objects.bulk_create(phones, batch_size=1000)
    Debt.objects.bulk_create(debts, batch_size=1000)
