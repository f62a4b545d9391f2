import csv
import datetime
import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from attendance.models import AgreementInstallment, Payment
from attendance.negotiation import Proposal
from attendance.payment_import import TEMPLATE_HEADERS
from attendance.services import create_agreement
from core.models import Client, Debt
from tenants.models import AuditEvent
from tests.conftest import post_csv_import

D = Decimal
YESTERDAY = (timezone.localdate() - datetime.timedelta(days=1)).strftime("%d/%m/%Y")


@pytest.fixture
def setup(tenant, operator, creditor, make_client):
    creditor.min_entry_percent = D("0")
    creditor.save()
    by_titulo = make_client(external_id="T1", debts=((D("100.00"), 40), (D("80.00"), 10)))
    in_agreement = make_client(external_id="A1", debts=((D("300.00"), 40),))
    agreement = create_agreement(
        tenant, operator, in_agreement, Proposal(installments=2, first_due_date=timezone.localdate())
    )
    return by_titulo, in_agreement, agreement


def rows_for(by_titulo, in_agreement, agreement):
    first = agreement.installments.get(number=1)
    return [
        {"id_pagamento": "P1", "cpf": by_titulo.formatted_cpf, "contrato": by_titulo.debts.first().contract_code,
         "parcela": "1", "data": YESTERDAY, "valor": "40,00", "forma": "PIX"},
        {"id_pagamento": "P2", "external_id": "A1", "acordo": str(agreement.pk), "data": YESTERDAY,
         "valor": str(first.amount).replace(".", ","), "forma": "boleto"},
        # errors, one per row
        {"id_pagamento": "P3", "external_id": "NOPE", "contrato": "X", "data": YESTERDAY, "valor": "1,00"},
        {"id_pagamento": "P4", "external_id": "T1", "contrato": "C1", "parcela": "2", "data": YESTERDAY,
         "valor": "999,00"},
        {"id_pagamento": "P1", "external_id": "T1", "contrato": "C1", "data": YESTERDAY, "valor": "1,00"},
        {"id_pagamento": "", "external_id": "T1", "contrato": "C1", "data": "31/02/2026", "valor": "abc",
         "forma": "cheque"},
    ]  # fmt: skip


EXPECTED_ERRORS = [
    "Cliente não encontrado: external_id NOPE",
    "maior que o saldo",
    "id_pagamento P1 repetido no arquivo (já na linha 2)",
    "id_pagamento não informado",
    "Forma de pagamento desconhecida: cheque",
]


def csv_file(rows) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TEMPLATE_HEADERS, delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def run_command(path, *extra):
    out = io.StringIO()
    call_command("import_payments", str(path), "--tenant", "alfa", "--no-progress", *extra, stdout=out)
    return out.getvalue()


def test_command_dry_run_then_import_then_reimport_changes_nothing(setup, tmp_path):
    by_titulo, _in_agreement, agreement = setup
    path = tmp_path / "pagamentos.csv"
    path.write_bytes(csv_file(rows_for(*setup)))

    out = run_command(path, "--dry-run")
    assert "Simulação: 6 linhas lidas, 2 pagamentos registrados, 0 já importados antes, 4 com erro" in out
    assert not Payment.objects.exists()
    errors = (tmp_path / "pagamentos.csv.erros.csv").read_text()
    for fragment in EXPECTED_ERRORS:
        assert fragment in errors

    out = run_command(path)
    assert "6 linhas lidas, 2 pagamentos registrados, 0 já importados antes, 4 com erro" in out
    debt = by_titulo.debts.get(installment_number=1)
    assert (debt.paid_amount, debt.status) == (D("40.00"), Debt.Status.OPEN)
    by_titulo.refresh_from_db()
    assert by_titulo.open_balance == D("140.00")
    first = agreement.installments.get(number=1)
    assert (first.status, first.payment_method) == (AgreementInstallment.Status.PAID, "boleto")
    snapshot = list(Payment.objects.values_list("pk", "amount").order_by("pk"))
    # Imported payments are audited as the ones by hand are, with where they came from.
    audited = AuditEvent.objects.filter(action=AuditEvent.Action.PAYMENT_POSTED)
    assert sorted(audited.values_list("object_id", flat=True)) == sorted(str(pk) for pk, _amount in snapshot)
    assert all(event.changes["origem"] == ["", "Arquivo"] for event in audited)

    out = run_command(path)
    assert "0 pagamentos registrados, 2 já importados antes, 4 com erro" in out
    assert list(Payment.objects.values_list("pk", "amount").order_by("pk")) == snapshot
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PAYMENT_POSTED).count() == len(snapshot)
    debt.refresh_from_db()
    assert debt.paid_amount == D("40.00")


def test_the_last_installment_by_file_settles_the_client(setup, tmp_path):
    _by_titulo, in_agreement, agreement = setup
    rows = [
        {"id_pagamento": f"Q{i.number}", "external_id": "A1", "acordo": str(agreement.pk), "parcela": i.number,
         "data": YESTERDAY, "valor": str(i.amount)}
        for i in agreement.installments.all()
    ]  # fmt: skip
    path = tmp_path / "p.csv"
    path.write_bytes(csv_file(rows))
    assert "2 pagamentos registrados" in run_command(path)
    in_agreement.refresh_from_db()
    agreement.refresh_from_db()
    assert (agreement.status, in_agreement.status) == ("quitado", Client.Status.PAID)


def admin_import(client, data: bytes):
    from attendance.admin import PaymentAdmin

    return post_csv_import(client, PaymentAdmin, Payment, data, "p.csv")


def test_admin_import_previews_errors_then_imports_the_good_rows_once(client, supervisor, setup):
    client.force_login(supervisor)
    data = csv_file(rows_for(*setup))
    response = admin_import(client, data)
    assert response.status_code == 200
    html = response.content.decode()
    for fragment in EXPECTED_ERRORS:
        assert fragment in html
    assert not Payment.objects.exists(), "the preview is a dry run"
    confirm = response.context["confirm_form"]
    response = client.post(
        "/admin/attendance/payment/process_import/",
        {name: f.initial if f.initial is not None else confirm.initial.get(name) for name, f in confirm.fields.items()},
    )
    assert response.status_code == 302
    assert set(Payment.objects.values_list("external_id", flat=True)) == {"P1", "P2"}

    response = admin_import(client, data)
    result = response.context["result"]
    assert [r.import_type for r in result.valid_rows()] == ["skip", "skip"]
    assert Payment.objects.count() == 2


def test_baixa_by_hand_refuses_an_overpayment_then_posts(client, supervisor, setup):
    by_titulo, _in_agreement, _agreement = setup
    debt = by_titulo.debts.get(installment_number=1)
    client.force_login(supervisor)
    url = f"/admin/attendance/payment/add/?debt={debt.pk}"
    page = client.get(url)
    assert page.status_code == 200
    assert "em aberto R$ 100,00" in page.content.decode()
    # The amount box is the admin's styled text box, prefilled with what is open.
    amount_input = page.context["adminform"].form["amount"]
    assert amount_input.value() == D("100.00")
    assert 'name="amount"' in str(amount_input) and "border" in str(amount_input)
    token = re.search(r'name="token" value="([^"]+)"', page.content.decode())[1]
    form = {"debt": debt.pk, "amount": "150,00", "paid_on": YESTERDAY, "method": "pix", "notes": "", "token": token}
    response = client.post(url, form)
    assert response.status_code == 200
    assert "maior que o saldo de R$ 100,00" in response.content.decode()
    assert not Payment.objects.exists()

    response = client.post(url, {**form, "amount": "100,00"})
    assert response.status_code == 302, response.content.decode()[:2000]
    debt.refresh_from_db()
    by_titulo.refresh_from_db()
    assert debt.status == Debt.Status.PAID and by_titulo.open_balance == D("80.00")
    payment = Payment.objects.get()
    assert payment.created_by == supervisor
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PAYMENT_POSTED, user=supervisor).exists()


def test_baixa_of_another_tenants_titulo_is_refused(client, supervisor, make_client, other_tenant):
    foreign = make_client(tenant=other_tenant).debts.get()
    client.force_login(supervisor)
    response = client.post(
        "/admin/attendance/payment/add/",
        {"debt": foreign.pk, "amount": "10,00", "paid_on": YESTERDAY, "method": "pix"},
    )
    assert response.status_code == 200
    assert not Payment.objects.exists()
    foreign.refresh_from_db()
    assert foreign.paid_amount == 0


def test_operator_has_no_payments_admin(client, operator, setup):
    client.force_login(operator)
    assert client.get("/admin/attendance/payment/add/").status_code in (302, 403)


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"acordo": "²"}, "Acordo inválido: ²."),
        ({"acordo": "9" * 5000}, "Acordo inválido"),
        ({"parcela": "١"}, "Parcela inválida: ١."),
        ({"valor": "١٠"}, "Valor inválido"),
        ({"id_pagamento": "P\x00X"}, "Coluna id_pagamento com caractere nulo"),
        ({"external_id": "T1\x00"}, "Coluna external_id com caractere nulo"),
        ({"contrato": "C\x001"}, "Coluna contrato com caractere nulo"),
        ({"data": "31/12/1989"}, "A data do pagamento é anterior a 01/01/1990: confira o ano."),
    ],
)
def test_a_hostile_cell_is_an_error_of_its_row_and_the_good_rows_still_import(
    client, supervisor, setup, cells, message
):
    by_titulo, _in_agreement, _agreement = setup
    good = {"id_pagamento": "OK1", "external_id": "T1", "contrato": by_titulo.debts.first().contract_code,
            "data": YESTERDAY, "valor": "10,00"}  # fmt: skip
    client.force_login(supervisor)
    response = admin_import(client, csv_file([{**good, "id_pagamento": "BAD", **cells}, good]))
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors(), [e.error for row in result.row_errors() for e in row[1]]
    [invalid] = result.invalid_rows
    assert invalid.number == 1 and message in " ".join(invalid.error.messages)
    assert response.context["confirm_form"] is not None


def test_the_command_reports_a_nul_payment_id_as_a_row_error(setup, tmp_path):
    by_titulo, _in_agreement, _agreement = setup
    path = tmp_path / "pagamentos.csv"
    path.write_bytes(
        csv_file(
            [
                {"id_pagamento": "P\x00", "external_id": "T1", "contrato": "C1", "data": YESTERDAY, "valor": "1,00"},
                {"id_pagamento": "P9", "external_id": "T1", "contrato": by_titulo.debts.first().contract_code,
                 "data": YESTERDAY, "valor": "1,00"},
            ]
        )
    )  # fmt: skip
    run_command(path)
    assert list(Payment.objects.values_list("external_id", flat=True)) == ["P9"]


def test_installment_rows_of_one_file_apply_in_order_as_payments_one_after_another(
    setup, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    """A chunk's installment rows are posted together (post_installment_payments): each row sees the ones before it,
    as post_payment one row after another would (partial, then the rest, the agreement quitado by its last
    installment, a later row refused on the quitado agreement), with audit events and the client paid off."""
    stopped = []
    monkeypatch.setattr("core.hooks.stop_calling_hooks", lambda client, **_: stopped.append(client.pk))
    _by_titulo, in_agreement, agreement = setup
    first, second = agreement.installments.order_by("number")
    row = {"external_id": "A1", "acordo": str(agreement.pk), "data": YESTERDAY}
    rows = [
        {**row, "id_pagamento": "S1", "parcela": first.number, "valor": "10,00"},
        {**row, "id_pagamento": "S2", "parcela": first.number, "valor": str(first.amount).replace(".", ",")},
        {**row, "id_pagamento": "S3", "parcela": first.number, "valor": str(first.amount - 10).replace(".", ",")},
        {**row, "id_pagamento": "S4", "parcela": second.number, "valor": str(second.amount).replace(".", ",")},
        {**row, "id_pagamento": "S5", "parcela": second.number, "valor": "1,00"},
    ]
    path = tmp_path / "p.csv"
    path.write_bytes(csv_file(rows))
    with django_capture_on_commit_callbacks(execute=True):
        output = run_command(path)
    assert "3 pagamentos registrados, 0 já importados antes, 2 com erro" in output
    errors = (tmp_path / "p.csv.erros.csv").read_text(encoding="utf-8-sig")
    assert "maior que o saldo" in errors  # S2: 10,00 already paid on it
    assert f"O acordo #{agreement.pk} está quitado" in errors  # S5, after S4 settled it
    first.refresh_from_db()
    second.refresh_from_db()
    agreement.refresh_from_db()
    in_agreement.refresh_from_db()
    assert (first.status, first.paid_amount, second.status) == ("paga", first.amount, "paga")
    assert (agreement.status, agreement.close_reason) == ("quitado", "Todas as parcelas pagas.")
    assert in_agreement.status == Client.Status.PAID and in_agreement.open_balance == 0
    assert set(agreement.debts.values_list("status", flat=True)) == {Debt.Status.PAID}
    assert sorted(Payment.objects.filter(installment__agreement=agreement).values_list("external_id", flat=True)) == [
        "S1",
        "S3",
        "S4",
    ]
    events = AuditEvent.objects.filter(object_id__in=[str(p.pk) for p in Payment.objects.all()], action="pagamento")
    assert events.count() == Payment.objects.count()
    settled = AuditEvent.objects.get(object_id=str(agreement.pk), action="acordo_quitado")
    assert (settled.object_repr, settled.object_type) == (str(agreement), "acordo")
    assert stopped == [in_agreement.pk]
    # Again: every id already recorded, nothing changes.
    assert "0 pagamentos registrados" in run_command(path)
    assert Payment.objects.filter(installment__agreement=agreement).count() == 3
