"""`manage.py bench --quick`: every step runs on a database of its own and every row of the table is printed.

At these sizes the speed figures mean nothing; what must hold at any size does: no call missed or misdelivered,
every Carteira count exact or labelled, the last page served and the one after it refused.
"""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the benchmark needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

ROWS = [
    "consoles aguardando",
    "ingestão durável",
    "dois nós",
    "loopback",
    "ms por requisição",
    "“Enviar” de",
    "Carteira, contagens",
    "import_wallet",
    "seed_wallet",
    "página de atendimento",
    "disco,",
    "Carteira / ModelAdmin padrão",
    "Carteira, consultas e renderização",
    "prévia do envio",
    "painel, 30 dias",
    "leituras na réplica",
]


def test_the_quick_bench_prints_every_row_and_the_correctness_holds():
    name = f"{connection.settings_dict['NAME']}_benchq"
    out = StringIO()
    try:
        call_command("bench", "--quick", "--database", name, stdout=out)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)} WITH (FORCE)")
    text = out.getvalue()
    table = text[text.rindex("o quê") :]
    lines = {row: next((line for line in table.splitlines() if row in line), "") for row in ROWS}
    assert all(lines.values()), [row for row, line in lines.items() if not line]
    assert "Carteira, 3" in table  # the speed row, with the wallet's size
    assert "0 perdidas, 0 no agente errado" in lines["consoles aguardando"]
    assert lines["Carteira, contagens"].endswith("✓"), lines["Carteira, contagens"]
    assert "0 erros" in lines["ingestão durável"]
    assert "0 perdidas, 0 no agente errado" in lines["dois nós"]
    assert "resposta em" in lines["“Enviar” de"]
    # The whole wallet (seeded and imported) selected in the preview; the dashboard's history seeded and read.
    assert re.search(r"prévia do envio, 3\.\d{3} clientes selecionados", lines["prévia do envio"]), lines[
        "prévia do envio"
    ]
    assert "30 dias: mediana" in lines["painel, 30 dias"]
    # The replica served the pages' reads, and the primary read less for it.
    served = re.search(
        r"(\d+) consultas na réplica, (\d+) no primário; linhas lidas no primário −(\d+)%", lines["leituras na réplica"]
    )
    assert served and int(served.group(1)) > 0 and int(served.group(3)) >= 50, lines["leituras na réplica"]
    # Every row of the quick run: last round's, the durable ingest, the consoles and two nodes, the export end to end
    # (one loopback size and at latency), the Carteira against stock and its queries, the preview, the dashboard,
    # the replica's reads, and the disk.
    total = re.search(r"\d+ de (\d+) linhas na meta", table)
    assert total and total.group(1) == "18", total and total.group(0)
