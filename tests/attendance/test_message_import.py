"""The WhatsApp history import of the admin: rows naming a client of the tenant are imported, the others refused."""

import csv
import io

import pytest

from attendance.models import Message
from tests.conftest import post_csv_import

pytestmark = pytest.mark.django_db
HEADERS = ["external_id", "direction", "body", "sent_at", "status", "phone"]


def csv_file(rows) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADERS, delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def admin_import(client, data: bytes):
    from attendance.admin import MessageAdmin

    return post_csv_import(client, MessageAdmin, Message, data, "m.csv")


def confirm(client, response):
    form = response.context["confirm_form"]
    return client.post(
        "/admin/attendance/message/process_import/",
        {name: f.initial if f.initial is not None else form.initial.get(name) for name, f in form.fields.items()},
    )


GOOD = {"external_id": "W1", "direction": "recebida", "body": "Posso pagar amanhã?",
        "sent_at": "2025-03-10 14:30:00", "status": "recebida", "phone": "+5511987654321"}  # fmt: skip


def test_valid_rows_import_and_a_client_of_another_tenant_is_a_row_error(
    client, tenant_admin, tenant, make_client, other_tenant
):
    from core.models import Client, Creditor

    maria = make_client(external_id="W1")
    stranger_creditor = Creditor.objects.create(tenant=other_tenant, name="Outro")
    Client.objects.create(
        tenant=other_tenant, creditor=stranger_creditor, external_id="X9", name="Alheio", cpf="52998224725"
    )
    rows = [
        GOOD,
        {**GOOD, "direction": "enviada", "body": "Claro, mando o PIX.", "status": "lida"},
        {**GOOD, "external_id": "X9"},
        {**GOOD, "body": "nulo\x00aqui"},
        {**GOOD, "sent_at": "1989-12-31 10:00:00"},
    ]
    client.force_login(tenant_admin)
    response = admin_import(client, csv_file(rows))
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors(), [e.error for row in result.row_errors() for e in row[1]]
    errors = {row.number: " ".join(row.error.messages) for row in result.invalid_rows}
    assert set(errors) == {3, 4, 5}, errors
    assert "Cliente não encontrado: X9" in errors[3]
    assert "caractere nulo" in errors[4]
    assert "fora do intervalo aceito" in errors[5]

    assert confirm(client, response).status_code == 302
    messages = list(Message.objects.order_by("id"))
    assert [(m.tenant, m.client, m.direction, m.body) for m in messages] == [
        (tenant, maria, "recebida", "Posso pagar amanhã?"),
        (tenant, maria, "enviada", "Claro, mando o PIX."),
    ]
