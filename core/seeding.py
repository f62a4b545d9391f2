"""Realistic fake wallets, fast: PostgreSQL COPY where available, bulk_create elsewhere."""

import datetime
import random
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from core.models import Client, ClientPhone, Creditor, Debt

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


def cpf_check_digits(base: str) -> str:
    """The two check digits of a 9-digit CPF base (stdnum only validates; fake data needs to make them)."""
    first = (11 - sum((10 - i) * int(base[i]) for i in range(9))) % 11 % 10
    second = (11 - sum((11 - i) * int(base[i]) for i in range(9)) - 2 * first) % 11 % 10
    return f"{first}{second}"


class WalletFaker:
    def __init__(self, seed=None):
        self.random = random.Random(seed)
        self.today = timezone.localdate()

    def cpf(self) -> str:
        base = f"{self.random.randrange(1, 999_999_999):09d}"
        return base + cpf_check_digits(base)

    def mobile(self, area: str) -> str:
        return f"+55{area}9{self.random.randint(6, 9)}{self.random.randrange(10_000_000):07d}"

    def landline(self, area: str) -> str:
        return f"+55{area}{self.random.randint(2, 5)}{self.random.randrange(10_000_000):07d}"

    def client(self, client_id: int, creditors: list[Creditor]):
        """(client field values, [phone tuples], [debt tuples]) for one client."""
        rnd = self.random
        name = f"{rnd.choice(FIRST_NAMES)} {rnd.choice(LAST_NAMES)} {rnd.choice(LAST_NAMES)}"
        city, state, area = rnd.choice(CITIES)
        phones = [self.mobile(area)]
        extra = rnd.random()
        if extra < 0.9:
            phones.append(self.mobile(area) if extra < 0.6 else self.landline(area))
        if extra < 0.55:
            phones.append(self.landline(area))
        if rnd.random() < 0.04:  # a few clients have no dialable phone at all
            phones = []
        debts = []
        contract = f"CT{client_id:09d}"
        installments = rnd.choice((1, 1, 2, 3))
        first_due = self.today - datetime.timedelta(days=rnd.randint(-20, 900))
        balance = Decimal("0")
        oldest = None
        for number in range(1, installments + 1):
            due = first_due + datetime.timedelta(days=30 * (number - 1))
            amount = Decimal(rnd.randrange(5_000, 500_000)) / 100
            debts.append((contract, number, installments, due, amount))
            balance += amount
            oldest = due if oldest is None or due < oldest else oldest
        fields = {
            "id": client_id,
            "creditor_id": rnd.choice(creditors).pk,
            "name": name,
            "cpf": self.cpf(),
            "email": f"{name.split()[0].lower()}.{client_id}@exemplo.com.br",
            "external_id": f"EXT-{client_id}",
            "street": rnd.choice(STREETS),
            "number": str(rnd.randint(1, 3000)),
            "district": rnd.choice(DISTRICTS),
            "city": city,
            "state": state,
            "postal_code": f"{rnd.randrange(1_000, 99_999):05d}-{rnd.randrange(1_000):03d}",
            "open_balance": balance,
            "oldest_due_date": oldest,
            "main_phone": phones[0] if phones else "",
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
    "status",
    "open_balance",
    "oldest_due_date",
    "main_phone",
    "created_at",
    "updated_at",
]


def seed_wallet(tenant, clients: int, batch_size: int = 10_000, seed=None, progress=None) -> int:
    """Create `clients` fake clients with phones and debts in `tenant`; returns how many were made."""
    creditors = list(Creditor.objects.filter(tenant=tenant)) or ensure_demo_creditors(tenant)
    faker = WalletFaker(seed)
    made = 0
    while made < clients:
        size = min(batch_size, clients - made)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                _copy_batch(tenant, creditors, faker, size)
            else:
                _orm_batch(tenant, creditors, faker, size)
        made += size
        if progress:
            progress(size)
    return made


def _reserve_ids(table: str, count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return [row[0] for row in cursor.fetchall()]


def _copy_batch(tenant, creditors, faker, size):
    now = timezone.now()
    client_ids = _reserve_ids(Client._meta.db_table, size)
    client_rows, phone_rows, debt_rows = [], [], []
    for client_id in client_ids:
        fields, phones, debts = faker.client(client_id, creditors)
        client_rows.append(
            (
                client_id,
                tenant.pk,
                fields["creditor_id"],
                fields["name"],
                fields["cpf"],
                fields["email"],
                fields["external_id"],
                fields["street"],
                fields["number"],
                "",
                fields["district"],
                fields["city"],
                fields["state"],
                fields["postal_code"],
                "",
                Client.Status.OPEN.value,
                fields["open_balance"],
                fields["oldest_due_date"],
                fields["main_phone"],
                now,
                now,
            )
        )
        for priority, number in enumerate(phones, 1):
            kind = "celular" if number[5] == "9" else "fixo"
            phone_rows.append((tenant.pk, client_id, number, kind, kind == "celular", True, "", priority))
        for contract, number, total, due, amount in debts:
            debt_rows.append((tenant.pk, client_id, contract, number, total, due, amount, 0, Debt.Status.OPEN.value))
    with connection.cursor() as cursor:
        raw = cursor.cursor
        _copy(raw, Client._meta.db_table, CLIENT_COPY_COLUMNS, client_rows)
        _copy(
            raw,
            ClientPhone._meta.db_table,
            [
                "tenant_id",
                "client_id",
                "number",
                "kind",
                "whatsapp",
                "active",
                "deactivation_reason",
                "priority",
            ],
            phone_rows,
        )
        _copy(
            raw,
            Debt._meta.db_table,
            [
                "tenant_id",
                "client_id",
                "contract_code",
                "installment_number",
                "installment_total",
                "due_date",
                "original_amount",
                "paid_amount",
                "status",
            ],
            debt_rows,
        )


def _copy(raw_cursor, table, columns, rows):
    with raw_cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


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
