"""Issue 24, item 2: every operator action says what happened; one tabulação per call; the popped page shows
the number on the line; and the negotiation presets (item 8)."""

import datetime
import time
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from attendance.models import Agreement, CallDisposition
from tenants.models import AuditEvent
from tests.browser.conftest import login
from tests.browser.test_screen_pop import post_webhook

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAILED = "Não foi possível salvar — tente de novo."
NOTES = "#negotiation-form textarea[name=notes]"


def open_client(page, live_server, operator, client, call_id="CALL-77"):
    login(page, live_server, operator, next_url=f"/atendimento/{client.pk}/?call_id={call_id}")
    expect(page.locator("h1")).to_have_text(client.name)


def simulate_6x(page):
    page.get_by_test_id("open-negotiation").click()
    page.get_by_role("button", name="6x").click()
    expect(page.locator("#simulation")).to_be_visible()


def test_notes_then_gerar_acordo_keeps_the_agreement_on_screen(page, live_server, operator, make_client):
    client = make_client(name="Olga Observação", debts=((Decimal("1200.00"), 60),))
    open_client(page, live_server, operator, client)
    simulate_6x(page)
    # Any simulation from here on answers late, as on a loaded server: after the agreement exists.
    page.route("**/simular/", lambda route: (time.sleep(1.5), route.continue_()))
    page.fill(NOTES, "Paga no dia 10, via PIX")
    page.get_by_test_id("create-agreement").click()

    expect(page.locator("#ws-messages")).to_contain_text("gerado e ativo")
    agreement = Agreement.objects.get(client=client)
    expect(page.locator("#agreement-banner")).to_contain_text(f"Acordo #{agreement.pk} ativo")
    page.wait_for_timeout(2500)  # past any late simulation
    panel = page.locator("#negotiation")
    expect(panel).to_contain_text("O cliente já tem um acordo em aberto")
    expect(panel).not_to_contain_text("não tem títulos em aberto")
    expect(page.locator("#agreement-banner")).to_contain_text(f"Acordo #{agreement.pk} ativo")
    assert "Paga no dia 10, via PIX" in CallDisposition.objects.get(client=client, call_id="CALL-77").notes


def test_a_simulation_in_flight_does_not_replace_the_agreement(page, live_server, operator, make_client):
    client = make_client(name="Sérgio Simulado", debts=((Decimal("1200.00"), 60),))
    open_client(page, live_server, operator, client)
    simulate_6x(page)
    held = []
    page.route("**/simular/", lambda route: held.append(route))
    page.fill("#id_discount_percent", "5")
    page.locator("#id_discount_percent").blur()
    page.wait_for_timeout(500)  # the change's simulation is sent (and held)
    assert len(held) == 1
    page.get_by_test_id("create-agreement").click()
    expect(page.locator("#agreement-banner")).to_contain_text("ativo")
    late = held[0]
    late.fulfill(response=late.fetch())  # the stale simulation arrives now
    page.wait_for_timeout(1000)
    expect(page.locator("#negotiation")).to_contain_text("O cliente já tem um acordo em aberto")
    expect(page.locator("#negotiation-form")).to_have_count(0)
    assert Agreement.objects.filter(client=client).count() == 1


def test_a_failed_action_says_so_and_keeps_what_was_typed(page, live_server, operator, make_client):
    client = make_client(name="Fábio Falha", debts=((Decimal("1200.00"), 60),))
    open_client(page, live_server, operator, client)

    # The server answers 500: the tabulação's notes stay and the operator is told.
    page.route("**/tabular/", lambda route: route.fulfill(status=500, body="Server Error"))
    page.get_by_role("radio", name="Caixa Postal").check()
    page.fill("#id_notes", "Deixei recado com a filha")
    page.get_by_role("button", name="Registrar tabulação").click()
    expect(page.get_by_test_id("action-error")).to_have_text(FAILED)
    expect(page.locator("#id_notes")).to_have_value("Deixei recado com a filha")
    expect(page.get_by_role("radio", name="Caixa Postal")).to_be_checked()
    assert not CallDisposition.objects.exists()

    # The connection drops on a simulation: said the same way, the proposal stays as typed.
    simulate_6x(page)
    page.route("**/simular/", lambda route: route.abort("internetdisconnected"))
    page.fill("#id_discount_percent", "7")
    page.get_by_role("button", name="Simular").click()
    expect(page.get_by_test_id("action-error")).to_have_text(FAILED)
    expect(page.locator("#id_discount_percent")).to_have_value("7")

    # A 4xx with its own Portuguese message says that message.
    page.unroute("**/simular/")
    page.route(
        "**/acordo/",
        lambda route: route.fulfill(
            status=403, body="Sua sessão expirou: entre de novo.", content_type="text/plain; charset=utf-8"
        ),
    )
    page.fill(NOTES, "Quer pagar na sexta")
    page.get_by_test_id("create-agreement").click()
    expect(page.get_by_test_id("action-error")).to_have_text("Sua sessão expirou: entre de novo.")
    expect(page.locator(NOTES)).to_have_value("Quer pagar na sexta")
    assert not Agreement.objects.exists()

    # And once the server is back, the same typed tabulação goes through.
    page.unroute("**/tabular/")
    page.get_by_role("button", name="Registrar tabulação").click()
    expect(page.locator("#ws-messages")).to_contain_text("Tabulação registrada: Caixa Postal.")
    assert CallDisposition.objects.get().notes == "Deixei recado com a filha"


def test_one_tabulacao_per_call_and_changing_it(page, live_server, operator, make_client):
    client = make_client(name="Tânia Tabulada", debts=((Decimal("300.00"), 20),))
    open_client(page, live_server, operator, client, call_id="CALL-88")
    # The same call open in a second tab, from before the first tabulação.
    other = page.context.new_page()
    other.goto(f"{live_server.url}/atendimento/{client.pk}/?call_id=CALL-88")

    page.get_by_role("radio", name="Caixa Postal").check()
    page.get_by_role("button", name="Registrar tabulação").click()
    expect(page.locator("#call-tabulated")).to_contain_text("Esta ligação já foi tabulada como “Caixa Postal”")
    expect(page.get_by_test_id("tabulation-submit")).to_have_text("Alterar tabulação")

    # The stale tab tries a second one: refused, what it typed kept, and it is offered the change instead.
    other.get_by_role("radio", name="Ligação Interrompida").check()
    other.fill("#id_notes", "Caiu no meio da conversa")
    other.get_by_role("button", name="Registrar tabulação").click()
    expect(other.locator("#tabulation")).to_contain_text("Esta ligação já foi tabulada; altere a tabulação registrada.")
    expect(other.locator("#id_notes")).to_have_value("Caiu no meio da conversa")
    assert CallDisposition.objects.filter(call_id="CALL-88").count() == 1

    other.get_by_role("radio", name="Ligação Interrompida").check()
    other.get_by_test_id("tabulation-submit").click()
    expect(other.locator("#ws-messages")).to_contain_text("Tabulação da ligação alterada para Ligação Interrompida.")
    expect(other.locator("#timeline-list li").first).to_contain_text("Ligação Interrompida")
    expect(other.locator("#timeline-list li").first).to_contain_text("antes: Caixa Postal")
    disposition = CallDisposition.objects.get(call_id="CALL-88")
    assert disposition.type.name == "Ligação Interrompida"
    assert disposition.notes == "Caiu no meio da conversa"
    assert disposition.changed_from == "Caixa Postal"
    event = AuditEvent.objects.get(action=AuditEvent.Action.DISPOSITION_CHANGED)
    assert event.changes["tabulação"] == ["Caixa Postal", "Ligação Interrompida"]
    assert event.user == operator


def test_the_popped_page_shows_the_number_on_the_line(page, live_server, operator, tenant, make_client):
    operator.membership.threecplus_agent_id = "1003"
    operator.membership.save()
    client = make_client(name="Lia Linha", phones=("+5511933334444", "+5511987654321"))
    login(page, live_server, operator, next_url="/atendimento/")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)
    call = {"id": "call:9:1:abc", "phone": "5511987654321", "identifier": str(client.pk), "agent": "1003"}
    post_webhook(live_server, tenant, {"call-was-connected": {"call": call, "mailing": {"identifier": str(client.pk)}}})
    page.wait_for_url(f"**/atendimento/{client.pk}/?call_id=*")
    live = page.locator("#on-line")
    expect(live).to_contain_text("Em ligação")
    expect(page.get_by_test_id("number-on-line")).to_have_text("(11) 98765-4321")


def test_the_unknown_number_banner_stays_while_searching(page, live_server, operator, tenant, make_client):
    operator.membership.threecplus_agent_id = "1004"
    operator.membership.save()
    make_client(name="Bruna Buscada", phones=("+5511955556666",))
    login(page, live_server, operator, next_url="/atendimento/")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)
    post_webhook(live_server, tenant, {"call": {"id": "c-busca", "phone": "5511900001111", "agent": "1004"}})
    watch = page.locator("#call-watch")
    expect(watch).to_contain_text("Cliente não encontrado")
    watch.locator("form[data-search] input[name=q]").fill("Bruna")
    # The connection drops on the first try: said, and the search box keeps what was typed.
    searching = lambda url: "q=" in url  # noqa: E731
    page.route(searching, lambda route: route.abort("internetdisconnected"))
    watch.locator("form[data-search] button").click()
    expect(page.get_by_test_id("action-error")).to_have_text(FAILED)
    expect(watch.locator("form[data-search] input[name=q]")).to_have_value("Bruna")
    page.unroute(searching)
    watch.locator("form[data-search] button").click()
    expect(page.locator("#search-results")).to_contain_text("Bruna Buscada")
    expect(watch).to_be_visible()
    expect(watch).to_contain_text("(11) 90000-1111")
    expect(watch).to_contain_text("Cliente não encontrado")
    expect(watch.locator("form[data-search] input[name=q]")).to_have_value("Bruna")


def test_negotiation_presets(page, live_server, operator, make_client, creditor):
    creditor.max_discount_percent = Decimal("30")
    creditor.min_entry_percent = Decimal("10")
    creditor.save()
    client = make_client(name="Paulo Presets", debts=((Decimal("2400.00"), 10),))
    open_client(page, live_server, operator, client)
    page.get_by_test_id("open-negotiation").click()

    # "à vista": one payment with the creditor's cash discount.
    a_vista = page.get_by_role("button", name="à vista")
    a_vista.click()
    expect(page.locator("#simulation-payments")).to_have_text("1 pagamento")
    expect(page.locator("#id_discount_percent")).to_have_value("30.00")
    expect(page.locator("#simulation-ok")).to_be_visible()
    expect(page.get_by_role("button", name="à vista")).to_have_attribute("aria-pressed", "true")

    # "12x": twelve payments in all, the entry being the first.
    twelve = page.get_by_role("button", name="12x")
    twelve.click()
    expect(page.locator("#simulation-payments")).to_have_text("12 pagamentos")
    expect(page.locator(".ws-installments tbody tr")).to_have_count(12)
    expect(page.locator(".ws-installments tbody tr").first).to_contain_text("Entrada")
    twelve = page.get_by_role("button", name="12x")
    expect(twelve).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="à vista")).to_have_attribute("aria-pressed", "false")
    # Chosen, under the pointer, it is drawn as chosen, not in the red of an error.
    twelve.hover()
    colour = twelve.evaluate("b => getComputedStyle(b).borderColor + ' ' + getComputedStyle(b).color")
    assert "220, 38, 38" not in colour and "185, 28, 28" not in colour
    page.get_by_test_id("create-agreement").click()
    expect(page.locator("#agreement-banner")).to_contain_text("ativo")
    agreement = Agreement.objects.get(client=client)
    assert agreement.installments.count() == 12 and agreement.entry_amount > 0


def test_a_past_first_due_date_is_explained(page, live_server, operator, make_client):
    client = make_client(name="Diego Data", debts=((Decimal("900.00"), 30),))
    open_client(page, live_server, operator, client)
    page.get_by_test_id("open-negotiation").click()
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    page.fill("#id_first_due_date", yesterday.isoformat())
    page.get_by_role("button", name="Simular").click()
    expect(page.locator("#negotiation")).to_contain_text(
        f"O primeiro vencimento ({yesterday:%d/%m/%Y}) já passou: escolha hoje"
    )
    expect(page.locator("#id_first_due_date")).to_have_value(yesterday.isoformat())


def test_an_operator_on_an_admin_page_is_told_sem_permissao(page, live_server, operator):
    login(page, live_server, operator, next_url="/atendimento/")
    expect(page.locator("#console")).to_be_visible()
    response = page.goto(f"{live_server.url}/admin/core/client/")
    assert response.status == 403
    expect(page.locator("body")).to_contain_text("Seu usuário não tem permissão para abrir esta página")
    expect(page.locator("input[name=password]")).to_have_count(0)
