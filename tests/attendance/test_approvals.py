"""Approving with the facts, and figures people trust: what the supervisor reads on an agreement's page, what the
operator is told of the decision, and the money the atendimento shows."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from attendance import payments
from attendance.models import Agreement, CallDisposition, DispositionType, Payment
from attendance.negotiation import Proposal
from attendance.services import create_agreement, reject_agreement
from dialer.models import DialerCallEvent

D = Decimal


def beyond_rules():
    return Proposal(discount_percent=D("55"), first_due_date=timezone.localdate() + datetime.timedelta(days=3))


def test_gerar_acordo_outside_the_rules_requires_the_justification(client, operator, make_client, lenient):
    debtor = make_client(name="Bruno Acima", debts=((D("900.00"), 30),))
    client.force_login(operator)
    page = client.get(f"/atendimento/{debtor.pk}/").content.decode()
    token = re.search(r'name="token" value="([^"]+)"', page[page.index('id="negotiation-form"') :])[1]
    form = {
        "discount_percent": "55",
        "installments": "1",
        "entry": "0",
        "first_due_date": (timezone.localdate() + datetime.timedelta(days=3)).isoformat(),
        "token": token,
        "call_id": "",
        "notes": "",
        "justification": "",
    }
    response = client.post(f"/atendimento/{debtor.pk}/acordo/", form, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="justification-error"' in html
    assert "A proposta está fora das regras do credor: escreva a justificativa para o supervisor" in html
    assert not Agreement.objects.exists()
    form["justification"] = "Desempregado; paga a entrada com o FGTS."
    client.post(f"/atendimento/{debtor.pk}/acordo/", form, HTTP_HX_REQUEST="true")
    agreement = Agreement.objects.get()
    assert agreement.status == Agreement.Status.PENDING_APPROVAL
    assert agreement.justification == "Desempregado; paga a entrada com o FGTS."


def test_within_the_rules_needs_no_justification(tenant, operator, make_client, lenient):
    agreement = create_agreement(tenant, operator, make_client(), Proposal(installments=1))
    assert agreement.status == Agreement.Status.ACTIVE and agreement.justification == ""


def test_the_agreement_page_shows_justification_call_recording_and_history(
    client, tenant, supervisor, operator, make_client, lenient
):
    debtor = make_client(name="Helena Histórico", debts=((D("700.00"), 30), (D("80.00"), 50)))
    payments.post_payment(
        tenant,
        supervisor,
        payments.PaymentInput(amount=D("80.00"), paid_on=timezone.localdate(), method="pix"),
        debt=debtor.debts.get(original_amount=D("80.00")),
    )
    CallDisposition.objects.create(
        tenant=tenant,
        client=debtor,
        operator=operator,
        type=DispositionType.objects.get(tenant=None, behavior="retornar"),
        notes="Pediu para ligar depois do almoço",
    )
    DialerCallEvent.objects.create(
        tenant=tenant, event=DialerCallEvent.Event.CONNECTED, call_id="CALL-77", client=debtor, phone="5511987654321"
    )
    DialerCallEvent.objects.create(
        tenant=tenant,
        event=DialerCallEvent.Event.HISTORY,
        call_id="CALL-77",
        client=debtor,
        status="7",
        duration_seconds=184,
        recording_url="https://gravacoes.exemplo.com.br/CALL-77.mp3",
    )
    agreement = create_agreement(
        tenant, operator, debtor, beyond_rules(), call_id="CALL-77", justification="Só consegue pagar com 55%."
    )
    client.force_login(supervisor)
    html = client.get(f"/admin/attendance/agreement/{agreement.pk}/change/").content.decode()
    assert "Só consegue pagar com 55%." in html
    assert "Ligação encerrada" in html and "duração 3:04" in html
    assert 'href="https://gravacoes.exemplo.com.br/CALL-77.mp3"' in html
    assert f'href="/atendimento/{debtor.pk}/?call_id=CALL-77"' in html
    history = html[html.index('id="agreement-history"') :]
    assert "Pediu para ligar depois do almoço" in history
    assert "R$ 80,00" in history  # the payment, and what was paid in all


def test_a_rejection_is_told_to_the_operator_on_the_console_and_the_timeline(
    client, tenant, supervisor, operator, make_client, lenient
):
    debtor = make_client(name="Rita Rejeitada")
    agreement = create_agreement(tenant, operator, debtor, beyond_rules(), justification="Cliente antigo.")
    reject_agreement(tenant, supervisor, agreement, "Desconto acima do que o credor aceita.")
    client.force_login(operator)
    console = client.get("/atendimento/").content.decode()
    notice = console[console.index('id="agreement-decisions"') :]
    assert f"Acordo #{agreement.pk} de Rita Rejeitada: rejeitado" in notice
    assert "Desconto acima do que o credor aceita." in notice
    page = client.get(f"/atendimento/{debtor.pk}/").content.decode()
    timeline = page[page.index('id="timeline-list"') :]
    assert f"Acordo #{agreement.pk} rejeitado" in timeline
    assert "Motivo: Desconto acima do que o credor aceita." in timeline


def test_a_rejection_without_a_reason_is_refused(tenant, supervisor, operator, make_client, lenient):
    agreement = create_agreement(tenant, operator, make_client(), beyond_rules(), justification="Motivo.")
    with pytest.raises(Exception, match="Informe o motivo da rejeição"):
        reject_agreement(tenant, supervisor, agreement, "  ")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PENDING_APPROVAL


def test_pago_includes_what_was_paid_through_an_agreement(client, tenant, supervisor, operator, make_client, lenient):
    debtor = make_client(name="Paula Pagou", debts=((D("4941.77"), -10),))  # not due yet: no interest
    agreement = create_agreement(tenant, operator, debtor, Proposal(installments=1))
    assert agreement.total == D("4941.77")
    payments.post_payment(
        tenant,
        supervisor,
        payments.PaymentInput(amount=D("4941.77"), paid_on=timezone.localdate(), method="pix"),
        installment=agreement.installments.get(),
    )
    client.force_login(operator)
    html = client.get(f"/atendimento/{debtor.pk}/").content.decode()
    paid = re.search(r'Pago</div><div class="ws-figure-value"[^>]*>([^<]*)<', html)[1]
    assert paid == "R$ 4.941,77"


def test_money_in_messages_and_on_the_timeline_is_written_as_brl(client, tenant, supervisor, make_client):
    debtor = make_client(debts=((D("1500.00"), 40),))
    debt = debtor.debts.get()
    client.force_login(supervisor)
    page = client.get(f"/admin/attendance/payment/add/?debt={debt.pk}").content.decode()
    token = re.search(r'name="token" value="([^"]+)"', page)[1]
    form = {
        "debt": debt.pk,
        "amount": "500,00",
        "paid_on": timezone.localdate().strftime("%d/%m/%Y"),
        "method": "pix",
        "notes": "",
        "token": token,
    }
    response = client.post(f"/admin/attendance/payment/add/?debt={debt.pk}", form, follow=True)
    html = response.content.decode()
    assert "Pagamento de R$ 500,00" in html and "500.00" not in html
    payment = Payment.objects.get()
    assert str(payment) == f"Pagamento de R$ 500,00 em {payment.paid_on:%d/%m/%Y}"


def test_months_are_written_in_lower_case(client, supervisor):
    from django.utils import formats, translation

    with translation.override("pt-br"):
        assert formats.date_format(datetime.date(2026, 12, 7), "YEAR_MONTH_FORMAT") == "dezembro de 2026"
        assert formats.date_format(datetime.date(2026, 3, 1), "j \\d\\e F") == "1 de março"
    client.force_login(supervisor)
    # The admin's calendar (date fields such as the baixa's) names its months from this catalog.
    catalog = client.get("/admin/jsi18n/").content.decode()
    assert '"December": "dezembro"' in catalog and '"Dezembro"' not in catalog
