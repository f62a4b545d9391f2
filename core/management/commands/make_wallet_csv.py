import csv
from pathlib import Path

from django.core.management.base import BaseCommand

from common.parsing import format_cpf, format_phone
from core.importing import TEMPLATE_HEADERS
from core.models import Creditor
from core.seeding import DEMO_CREDITORS, WalletFaker


class Command(BaseCommand):
    help = "Gera um CSV de carteira fictícia no formato de importação (para testar e medir import_wallet)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **options):
        faker = WalletFaker(options["seed"])
        creditors = [Creditor(pk=i, name=row[0]) for i, row in enumerate(DEMO_CREDITORS)]
        with open(options["file"], "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(TEMPLATE_HEADERS)
            for n in range(1, options["rows"] + 1):
                fields, phones, debts = faker.client(n, creditors)
                contract, number, total, due, amount = debts[0]
                values = {
                    "external_id": f"IMP-{n}",
                    "nome": fields["name"],
                    "cpf": format_cpf(fields["cpf"]),
                    "email": fields["email"],
                    "credor": creditors[fields["creditor_id"]].name,
                    "telefones": "; ".join(format_phone(p) for p in phones),
                    "logradouro": fields["street"],
                    "numero": fields["number"],
                    "bairro": fields["district"],
                    "cidade": fields["city"],
                    "uf": fields["state"],
                    "cep": fields["postal_code"],
                    "contrato": contract,
                    "parcela": number,
                    "total_parcelas": total,
                    "vencimento": due.strftime("%d/%m/%Y"),
                    "valor_original": f"{amount:.2f}".replace(".", ","),
                    "valor_pago": "0",
                }
                writer.writerow([values.get(h, "") for h in TEMPLATE_HEADERS])
        self.stdout.write(f"{options['rows']} linhas em {options['file']}")
