"""The supervisor decides an agreement with the facts on its page, rejects only with a reason and a confirmation,
the dashboard shows the queue and counts no rejected deal, and a baixa starts as PIX and returns to the agreement."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from attendance.models import Agreement, AgreementInstallment, Payment
from attendance.negotiation import Proposal
from attendance.services import create_agreement
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
D = Decimal


def pending_agreement(tenant, operator, debtor):
    first_due = timezone.localdate() + datetime.timedelta(days=3)
    return create_agreement(
        tenant,
        operator,
        debtor,
        Proposal(discount_percent=D("55"), first_due_date=first_due),
        justification="Desempregado; paga com o FGTS.",
    )


def test_reject_takes_a_reason_and_a_confirmation_and_the_operator_is_told(
    page, live_server, browser, tenant, supervisor, operator, make_client, lenient
):
    debtor = make_client(name="Rui Rejeitado", debts=((D("900.00"), 30),))
    agreement = pending_agreement(tenant, operator, debtor)
    login(page, live_server, supervisor, next_url=f"/admin/attendance/agreement/{agreement.pk}/change/")
    expect(page.get_by_text("Desempregado; paga com o FGTS.").first).to_be_visible()
    expect(page.locator("#agreement-history")).to_be_visible()
    expect(page.get_by_role("button", name="Rejeitar acordo")).to_have_count(0)  # no one-click rejection
    page.get_by_test_id("reject-link").click()
    expect(page.get_by_test_id("confirm-reject")).to_be_visible()
    page.locator("textarea[name=reason]").evaluate("(box) => box.removeAttribute('required')")
    page.get_by_test_id("confirm-reject").click()
    expect(page.locator("#reason-error")).to_contain_text("Informe o motivo da rejeição")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PENDING_APPROVAL
    page.fill("textarea[name=reason]", "Desconto acima do que o credor aceita.")
    page.get_by_test_id("confirm-reject").click()
    expect(page.get_by_text("verá o motivo no console")).to_be_visible()
    agreement.refresh_from_db()
    assert (agreement.status, agreement.decision_note) == (
        Agreement.Status.REJECTED,
        "Desconto acima do que o credor aceita.",
    )

    console = browser.new_page()
    login(console, live_server, operator, next_url="/atendimento/")
    notice = console.locator(f'#agreement-decisions [data-agreement="{agreement.pk}"]')
    expect(notice).to_contain_text("rejeitado")
    expect(notice).to_contain_text("Desconto acima do que o credor aceita.")
    notice.get_by_role("link", name="Abrir o cliente").click()
    expect(console.locator("#timeline-list")).to_contain_text("Motivo: Desconto acima do que o credor aceita.")
    console.close()


def test_dashboard_shows_the_queue_and_counts_no_rejected_deal(
    page, live_server, tenant, supervisor, operator, make_client, lenient
):
    kept = create_agreement(tenant, operator, make_client(debts=((D("1000.00"), 30),)), Proposal(installments=1))
    waiting = pending_agreement(tenant, operator, make_client(name="Na Fila", debts=((D("800.00"), 30),)))
    rejected = pending_agreement(tenant, operator, make_client(debts=((D("5783.50"), 30),)))
    login(page, live_server, supervisor, next_url=f"/admin/attendance/agreement/{rejected.pk}/rejeitar/")
    page.fill("textarea[name=reason]", "Fora da política do credor.")
    page.get_by_test_id("confirm-reject").click()
    expect(page.get_by_text("verá o motivo no console")).to_be_visible()

    page.goto(f"{live_server.url}/admin/?periodo=hoje")
    expect(page.locator("#painel-aprovacoes [data-value]")).to_have_text("1")
    expect(page.locator('[data-kpi="agreements"] [data-value]')).to_have_text("2")
    amount = kept.total + waiting.total
    brl = f"R$ {amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    expect(page.locator('[data-kpi="agreements_amount"] [data-value]')).to_have_text(brl)
    page.locator("#painel-aprovacoes").click()
    expect(page.locator("#result_list")).to_contain_text("Na Fila")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)


def test_dar_baixa_starts_as_pix_and_returns_to_the_agreement(
    page, live_server, tenant, supervisor, operator, make_client, lenient
):
    agreement = create_agreement(tenant, operator, make_client(debts=((D("600.00"), -10),)), Proposal(installments=2))
    login(page, live_server, supervisor, next_url=f"/admin/attendance/agreement/{agreement.pk}/change/")
    page.get_by_role("link", name="Dar baixa").first.click()
    expect(page.locator("select[name=method]")).to_have_value("pix")
    page.get_by_role("button", name="Salvar", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/admin/attendance/agreement/{agreement.pk}/change/")
    expect(page.get_by_text("Baixa registrada: Pagamento de R$ 300,00")).to_be_visible()
    payment = Payment.objects.get()
    assert payment.method == Payment.Method.PIX
    assert payment.installment.status == AgreementInstallment.Status.PAID


def test_dashboard_charts_name_their_series_and_axes_and_the_operator_table_fits(page, live_server, tenant):
    from tests.dashboard import scenario

    world = scenario.build(tenant, 1, today=timezone.localdate())
    page.set_viewport_size({"width": 1024, "height": 800})
    login(page, live_server, world["users"]["sup"], next_url="/admin/?periodo=hoje")
    expect(page.locator('[data-kpi="dialled"] [data-value]')).to_have_text("5")
    for selector, x_title, y_title, legend in (
        (".painel-diario canvas", "Dia", "Quantidade", True),
        (".painel-por-hora canvas", "Hora do dia", "Taxa de contato (%)", False),
    ):
        # The charts are drawn once their script has run: wait for them rather than race it.
        page.wait_for_function("(s) => window.Chart && Chart.getChart(document.querySelector(s))", arg=selector)
        drawn = page.evaluate(
            """(selector) => {
                const chart = Chart.getChart(document.querySelector(selector));
                const o = chart.options;
                return [o.plugins.legend.display, o.scales.x.title.text, o.scales.y.title.text,
                        chart.scales.y.ticks.length > 0 && o.scales.y.ticks.display];
            }""",
            selector,
        )
        assert drawn == [legend, x_title, y_title, True], selector
    # The table scrolls inside its box; the page itself never grows past the window and hides the last columns.
    last = page.locator("#painel-operadores thead th").last
    expect(last).to_contain_text("Retornos pendentes")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    last.scroll_into_view_if_needed()
    box = last.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1024
