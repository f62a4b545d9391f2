import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from attendance.models import Agreement, CallDisposition, ClientAccessLog, DispositionType, Message
from core.models import Client, ClientPhone, Debt


def dtype(behavior):
    return DispositionType.objects.get(tenant=None, behavior=behavior)


@pytest.fixture
def wallet_client(make_client):
    return make_client(
        name="Joana Devedora", phones=("+5511987654321", "+5511933334444"), debts=((Decimal("1200"), 40),)
    )


def test_anonymous_goes_to_login_and_comes_back(client, operator, wallet_client):
    url = f"/atendimento/{wallet_client.pk}/?call_id=C-1"
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/entrar/?next=")
    response = client.post(response.url, {"username": operator.username, "password": "senha-de-teste-123"})
    assert response.status_code == 302
    assert response.url == url


def test_page_shows_the_client_and_logs_the_access(client, operator, wallet_client):
    client.force_login(operator)
    html = client.get(f"/atendimento/{wallet_client.pk}/?call_id=C-9").content.decode()
    assert "Joana Devedora" in html
    assert wallet_client.formatted_cpf in html
    assert "R$ 1.200,00" in html
    assert "(11) 98765-4321" in html
    for label in ("Caixa Postal", "Ligação Interrompida", "Contato Incorreto", "Retornar", "Negociar"):
        assert label in html
    log = ClientAccessLog.objects.get()
    assert (log.user, log.client, log.call_id) == (operator, wallet_client, "C-9")


def test_another_tenants_client_is_a_404(client, operator, make_client, other_tenant):
    foreign = make_client(tenant=other_tenant)
    client.force_login(operator)
    assert client.get(f"/atendimento/{foreign.pk}/").status_code == 404
    response = client.post(
        f"/atendimento/{foreign.pk}/tabular/", {"type": dtype("caixa_postal").pk, "token": uuid.uuid4()}
    )
    assert response.status_code == 404
    assert not CallDisposition.objects.exists()


def tabulate(client, wallet_client, behavior, token=None, htmx=True, **extra):
    data = {"type": dtype(behavior).pk, "token": str(token or uuid.uuid4()), "notes": "", "call_id": "CALL-7", **extra}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(f"/atendimento/{wallet_client.pk}/tabular/", data, **headers)


def test_tabulation_is_recorded_with_the_call_id_and_shows_on_the_timeline(client, operator, wallet_client):
    client.force_login(operator)
    response = tabulate(client, wallet_client, "caixa_postal", notes="Caiu na caixa")
    assert response.status_code == 200
    body = response.content.decode()
    assert "innerHTML:#timeline" in body and "Caixa Postal" in body and "Caiu na caixa" in body
    disposition = CallDisposition.objects.get()
    assert (disposition.operator, disposition.call_id, disposition.tenant) == (operator, "CALL-7", wallet_client.tenant)


def test_a_resubmitted_form_never_records_twice(client, operator, wallet_client):
    client.force_login(operator)
    token = uuid.uuid4()
    tabulate(client, wallet_client, "ligacao_interrompida", token=token)
    tabulate(client, wallet_client, "ligacao_interrompida", token=token)
    tabulate(client, wallet_client, "ligacao_interrompida", token=token, htmx=False)
    assert CallDisposition.objects.count() == 1


def test_wrong_contact_requires_a_phone_and_deactivates_it(client, operator, wallet_client):
    client.force_login(operator)
    response = tabulate(client, wallet_client, "contato_incorreto")
    assert "Informe qual telefone" in response.content.decode()
    assert not CallDisposition.objects.exists()
    phone = wallet_client.phones.get(number="+5511987654321")
    tabulate(client, wallet_client, "contato_incorreto", phone=phone.pk)
    phone.refresh_from_db()
    assert not phone.active and phone.deactivation_reason == ClientPhone.DeactivationReason.WRONG_CONTACT
    wallet_client.refresh_from_db()
    assert wallet_client.main_phone == "+5511933334444", "future dialer exports skip the wrong number"


def test_phone_of_another_client_is_refused(client, operator, wallet_client, make_client):
    other = make_client(phones=("+5521988887777",))
    client.force_login(operator)
    tabulate(client, wallet_client, "contato_incorreto", phone=other.phones.get().pk)
    assert other.phones.get().active
    assert not CallDisposition.objects.exists()


def test_number_errado_button(client, operator, wallet_client):
    client.force_login(operator)
    phone = wallet_client.phones.get(number="+5511933334444")
    response = client.post(f"/atendimento/{wallet_client.pk}/telefones/{phone.pk}/errado/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    phone.refresh_from_db()
    assert not phone.active
    assert CallDisposition.objects.get().type.behavior == "contato_incorreto"


def test_callback_requires_a_future_time_and_lists_for_the_operator(client, operator, wallet_client):
    client.force_login(operator)
    past = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = tabulate(client, wallet_client, "retornar", callback_at=past)
    assert "futuras" in response.content.decode()
    assert not CallDisposition.objects.exists()
    response = tabulate(client, wallet_client, "retornar")
    assert "Informe a data e a hora" in response.content.decode()
    soon = timezone.localtime() + datetime.timedelta(minutes=2)
    if soon.date() != timezone.localdate():
        pytest.skip("too close to midnight for a same-day callback")
    tabulate(client, wallet_client, "retornar", callback_at=soon.strftime("%Y-%m-%dT%H:%M"))
    assert CallDisposition.objects.get().callback_at is not None
    html = client.get("/atendimento/retornos/").content.decode()
    assert "Joana Devedora" in html


def negotiate(client, wallet_client, path, **data):
    payload = {
        "discount_percent": "10",
        "installments": "6",
        "entry": "0",
        "first_due_date": (timezone.localdate() + datetime.timedelta(days=7)).isoformat(),
        "token": str(uuid.uuid4()),
        "call_id": "CALL-7",
        **data,
    }
    return client.post(f"/atendimento/{wallet_client.pk}/{path}/", payload, HTTP_HX_REQUEST="true")


def test_simulation_shows_installments_and_limits(client, operator, wallet_client, creditor):
    creditor.min_entry_percent = Decimal("0")
    creditor.save()
    client.force_login(operator)
    html = negotiate(client, wallet_client, "simular").content.decode()
    assert "Dentro das regras do credor" in html
    html = negotiate(client, wallet_client, "simular", discount_percent="50").content.decode()
    assert "acima do máximo de 40%" in html
    assert not Agreement.objects.exists()


def test_a_shortcut_fills_the_minimum_entry_and_the_agreement_is_active(client, operator, wallet_client, creditor):
    creditor.fees_percent = Decimal("10")
    creditor.save()  # fixture rules: entry of at least 10%, 1% a month, 2% fine
    client.force_login(operator)
    response = negotiate(client, wallet_client, "simular", discount_percent="0", fill_entry="on")
    html = response.content.decode()
    simulation = response.context["simulation"]
    assert simulation.within_limits, simulation.violations
    assert simulation.fees == Decimal("123.60")  # 10% of 1,200 + 12 interest + 24 fine
    assert "Honorários" in html and "R$ 123,60" in html
    assert simulation.entry == simulation.minimum_entry == Decimal("135.96")
    assert 'value="135,96"' in html  # the form now proposes the entry it simulated
    token = str(uuid.uuid4())
    negotiate(client, wallet_client, "acordo", discount_percent="0", entry="135,96", token=token)
    agreement = Agreement.objects.get()
    assert (agreement.status, agreement.fees, agreement.entry_amount) == (
        Agreement.Status.ACTIVE,
        Decimal("123.60"),
        Decimal("135.96"),
    )


def test_agreement_within_limits_is_active_and_moves_debts(client, operator, wallet_client, creditor):
    creditor.min_entry_percent = Decimal("0")
    creditor.save()
    client.force_login(operator)
    token = str(uuid.uuid4())
    negotiate(client, wallet_client, "acordo", token=token)
    negotiate(client, wallet_client, "acordo", token=token)  # double click
    agreement = Agreement.objects.get()
    assert agreement.status == Agreement.Status.ACTIVE
    assert agreement.installments.count() == 6
    assert sum(i.amount for i in agreement.installments.all()) == agreement.total
    assert not Debt.objects.filter(client=wallet_client, status=Debt.Status.OPEN).exists()
    wallet_client.refresh_from_db()
    assert wallet_client.status == Client.Status.AGREEMENT
    disposition = CallDisposition.objects.get(type__behavior="negociar")
    assert disposition.notes.startswith("Acordo gerado") and disposition.call_id == "CALL-7"
    # A second agreement is refused.
    html = negotiate(client, wallet_client, "acordo").content.decode()
    assert Agreement.objects.count() == 1
    assert "O cliente já tem um acordo ativo ou aguardando aprovação." in html  # the refusal, not the banner


def test_agreement_beyond_limits_awaits_approval_then_supervisor_approves(client, operator, supervisor, wallet_client):
    client.force_login(operator)
    negotiate(client, wallet_client, "acordo", discount_percent="60", justification="Só paga com o desconto.")
    agreement = Agreement.objects.get()
    assert agreement.status == Agreement.Status.PENDING_APPROVAL
    assert any("Desconto" in r for r in agreement.approval_reasons)
    assert Debt.objects.filter(client=wallet_client, status=Debt.Status.OPEN).exists()
    client.force_login(supervisor)
    response = client.post("/admin/attendance/agreement/", {"action": "approve", "_selected_action": [agreement.pk]})
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE and agreement.decided_by == supervisor
    assert not Debt.objects.filter(client=wallet_client, status=Debt.Status.OPEN).exists()
    client.post("/admin/attendance/agreement/", {"action": "cancel", "_selected_action": [agreement.pk]})
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.CANCELLED
    assert Debt.objects.filter(client=wallet_client, status=Debt.Status.OPEN).count() == 1
    wallet_client.refresh_from_db()
    assert wallet_client.open_balance == Decimal("1200.00")


def test_operator_cannot_approve(client, operator, wallet_client):
    client.force_login(operator)
    negotiate(client, wallet_client, "acordo", discount_percent="60", justification="Só paga com o desconto.")
    response = client.post(
        "/admin/attendance/agreement/", {"action": "approve", "_selected_action": [Agreement.objects.get().pk]}
    )
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert Agreement.objects.get().status == Agreement.Status.PENDING_APPROVAL


def test_whatsapp_tab_loads_the_chat_oldest_first_with_free_text_closed(client, operator, wallet_client):
    """The tab is messaging's chat, loaded by htmx; without a reply in the last 24 hours free text is closed."""
    now = timezone.now()
    for i, text in enumerate(["primeira", "segunda", "terceira"]):
        Message.objects.create(
            tenant=wallet_client.tenant,
            client=wallet_client,
            direction="enviada" if i % 2 else "recebida",
            body=text,
            sent_at=now - datetime.timedelta(days=2, minutes=10 - i),
        )
    client.force_login(operator)
    page = client.get(f"/atendimento/{wallet_client.pk}/").content.decode()
    assert f'hx-get="/mensagens/{wallet_client.pk}/chat/"' in page
    html = client.get(f"/mensagens/{wallet_client.pk}/chat/").content.decode()
    chat = html[html.index('id="chat-log"') :]
    assert chat.index("primeira") < chat.index("segunda") < chat.index("terceira")


def test_timeline_pages_and_the_query_count_is_bounded(client, operator, wallet_client, django_assert_max_num_queries):
    now = timezone.now()
    caixa = dtype("caixa_postal")
    dispositions = CallDisposition.objects.bulk_create(
        CallDisposition(
            tenant=wallet_client.tenant,
            client=wallet_client,
            operator=operator,
            type=caixa,
            notes=f"tentativa {i}",
            submission_token=uuid.uuid4(),
        )
        for i in range(600)
    )
    for i, d in enumerate(dispositions):
        d.created_at = now - datetime.timedelta(minutes=i)
    CallDisposition.objects.bulk_update(dispositions, ["created_at"])
    Message.objects.bulk_create(
        Message(
            tenant=wallet_client.tenant,
            client=wallet_client,
            direction="recebida",
            body=f"msg {i}",
            sent_at=now - datetime.timedelta(minutes=i, seconds=30),
        )
        for i in range(400)
    )
    client.force_login(operator)
    with django_assert_max_num_queries(26):  # 24, and the calling rule's two (windows per UF, city holidays)
        response = client.get(f"/atendimento/{wallet_client.pk}/")
    assert response.status_code == 200
    entries = response.context["entries"]
    assert len(entries) == 30 and response.context["has_more"]
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    more = client.get(f"/atendimento/{wallet_client.pk}/historico/", {"before": entries[-1].at.isoformat()})
    older = more.context["entries"]
    assert older[0].at < entries[-1].at
    assert "Carregar mais" in more.content.decode()
