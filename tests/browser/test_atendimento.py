import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from attendance.models import Agreement, CallDisposition, Message
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_works_a_call_from_the_deep_link(page, live_server, operator, make_client, lenient, screenshot):
    client = make_client(
        name="Carla Cliente", phones=("+5511987654321", "+5511933334444"), debts=((Decimal("1200.00"), 60),)
    )
    Message.objects.create(
        tenant=client.tenant,
        client=client,
        direction="recebida",
        body="Bom dia, recebi a cobrança",
        sent_at=timezone.now() - datetime.timedelta(hours=2),
    )
    deep_link = f"/atendimento/{client.pk}/?call_id=CALL-42"

    # Deep link while logged out: login, then back to the same page.
    page.goto(live_server.url + deep_link)
    expect(page).to_have_url(f"{live_server.url}/entrar/?next=/atendimento/{client.pk}/%3Fcall_id%3DCALL-42")
    page.fill("input[name=username]", operator.username)
    page.fill("input[name=password]", "senha-de-teste-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(live_server.url + deep_link)
    expect(page.locator("h1")).to_have_text("Carla Cliente")

    # Caixa Postal shows on the timeline without a reload.
    page.get_by_role("radio", name="Caixa Postal").check()
    page.fill("#id_notes", "Caixa postal cheia")
    page.get_by_role("button", name="Registrar tabulação").click()
    expect(page.locator("#timeline-list li").first).to_contain_text("Caixa Postal")
    expect(page.locator("#timeline-list li").first).to_contain_text("Caixa postal cheia")
    assert CallDisposition.objects.get().call_id == "CALL-42"

    # One tabulação per call: the client asks to be called back, so the operator changes it to Retornar.
    page.get_by_role("radio", name="Retornar").check()
    tomorrow = timezone.localtime() + datetime.timedelta(days=1)
    page.fill("#id_callback_at", tomorrow.strftime("%Y-%m-%dT10:30"))
    page.get_by_role("button", name="Alterar tabulação").click()
    expect(page.locator("#timeline-list li").first).to_contain_text("Retornar em")
    assert CallDisposition.objects.filter(callback_at__isnull=False).count() == 1
    assert CallDisposition.objects.filter(call_id="CALL-42").count() == 1

    # Mark a phone as wrong.
    phone = client.phones.get(number="+5511933334444")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id(f"wrong-{phone.pk}").click()
    expect(page.locator(f"#phone-{phone.pk}")).to_contain_text("Contato incorreto")
    phone.refresh_from_db()
    assert not phone.active

    # Simulate 6x with a discount within the creditor's limits, then generate the agreement.
    page.get_by_test_id("open-negotiation").click()
    page.fill("#id_discount_percent", "10")
    page.get_by_role("button", name="6x").click()
    expect(page.locator("#simulation-ok")).to_be_visible()
    expect(page.locator(".ws-installments tbody tr")).to_have_count(6)
    screenshot(page, "atendimento-simulacao")
    page.get_by_test_id("create-agreement").click()
    expect(page.locator("#agreement-banner")).to_contain_text("ativo")
    expect(page.locator("#timeline-list")).to_contain_text("Acordo #")
    expect(page.locator("#timeline-list li").first).to_contain_text("Acordo gerado")
    agreement = Agreement.objects.get()
    assert agreement.status == Agreement.Status.ACTIVE and agreement.installments_count == 6

    # WhatsApp: the history, and no input while the tenant has no WhatsApp configured (tests/browser/test_chat.py
    # drives the chat itself).
    page.get_by_role("tab", name="WhatsApp").click()
    expect(page.locator("#chat-log")).to_contain_text("Bom dia, recebi a cobrança")
    expect(page.get_by_test_id("chat")).to_contain_text("O WhatsApp da empresa não está configurado")
    expect(page.locator("#whatsapp-input")).to_have_count(0)
    screenshot(page, "atendimento-whatsapp")


def test_agreement_beyond_the_limits_awaits_approval(page, live_server, operator, make_client, lenient):
    client = make_client(name="Bruno Acima", debts=((Decimal("900.00"), 30),))
    login(page, live_server, operator, next_url=f"/atendimento/{client.pk}/")
    page.get_by_test_id("open-negotiation").click()
    page.fill("#id_discount_percent", "55")
    page.get_by_role("button", name="Simular").click()
    expect(page.locator("#simulation-violations")).to_contain_text("Desconto de 55% acima do máximo de 30%")
    page.fill("#id_justification", "Desempregado; paga com o FGTS")
    page.get_by_test_id("create-agreement").click()
    expect(page.locator("#agreement-banner")).to_contain_text("aguardando aprovação")
    assert Agreement.objects.get().status == Agreement.Status.PENDING_APPROVAL


def test_a_shortcut_fills_the_minimum_entry_then_the_agreement_offers_pix(
    page, live_server, operator, make_client, creditor
):
    """The creditor asks for 10% down: 6x lands within the rules by itself, and the installments get PIX codes."""
    tenant = creditor.tenant
    tenant.settings = {"pix_key": "12345678000195", "pix_nome_recebedor": "Alfa", "pix_cidade_recebedor": "Recife"}
    tenant.save()
    client = make_client(name="Dora Seis Vezes", debts=((Decimal("1200.00"), -10),))  # not due: no interest
    login(page, live_server, operator, next_url=f"/atendimento/{client.pk}/")
    page.get_by_test_id("open-negotiation").click()
    page.get_by_role("button", name="6x").click()
    expect(page.locator("#simulation-ok")).to_be_visible()
    expect(page.locator("#id_entry")).to_have_value("120,00")
    page.get_by_test_id("create-agreement").click()
    expect(page.locator("#agreement-banner")).to_contain_text("ativo")
    agreement = Agreement.objects.get()
    assert (agreement.status, agreement.entry_amount) == (Agreement.Status.ACTIVE, Decimal("120.00"))
    expect(page.locator("#next-installment")).to_contain_text("Entrada")
    page.get_by_test_id("pix-0").locator("summary").click()
    code = page.locator("#pix-code-0").input_value()
    assert code.startswith("000201") and f"AC{agreement.pk}P0" in code
    expect(page.get_by_test_id("pix-0").locator("svg")).to_be_visible()
