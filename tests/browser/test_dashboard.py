import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.dashboard import scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def chart(page, selector):
    """What Chart.js drew in the canvas: its type, labels and dataset names (None if nothing was drawn)."""
    return page.evaluate(
        """(selector) => {
            const chart = Chart.getChart(document.querySelector(selector));
            return chart && {type: chart.config.type, labels: chart.data.labels,
                             datasets: chart.data.datasets.map((d) => [d.label, d.data])};
        }""",
        selector,
    )


def test_dashboard_renders_figures_and_charts(page, live_server, tenant, other_tenant, screenshot):
    today = timezone.localdate()
    world = scenario.build(tenant, 1, today=today)
    scenario.build(other_tenant, 2, today=today)
    login(page, live_server, world["users"]["sup"], next_url="/admin/")
    page.select_option("select[name=periodo]", "hoje")
    page.get_by_role("button", name="Aplicar").click()
    expect(page.locator('[data-kpi="dialled"] [data-value]')).to_have_text("5")
    expect(page.locator('[data-kpi="contact_rate"] [data-value]')).to_have_text("60,0%")
    expect(page.locator('[data-kpi="recovery_rate"] [data-value]')).to_have_text("10,0%")
    daily = chart(page, ".painel-diario canvas")
    assert daily["type"] == "line"
    assert [name for name, _data in daily["datasets"]] == ["Discadas", "Atendidas", "Contato com o devedor", "Acordos"]
    assert daily["datasets"][0][1] == [5]
    hourly = chart(page, ".painel-por-hora canvas")
    assert hourly["type"] == "bar" and len(hourly["labels"]) == 24
    assert hourly["datasets"][0][1][9] == 66.7
    expect(page.locator('[data-live="webhook"] [data-value]')).to_be_visible()
    screenshot(page, "painel-inicio")

    page.get_by_role("link", name="Tempo falado").click()
    rows = page.locator("#painel-operadores tbody tr")
    expect(rows.first).to_contain_text("OP2")  # 30 s before OP1's 180 s
    csv_link = page.get_by_role("link", name="Exportar CSV")
    csv_url = re.compile(r"^/admin/painel/operadores\.csv\?.*periodo=hoje.*ordem=falado")
    expect(csv_link).to_have_attribute("href", csv_url)

    page.goto(f"{live_server.url}/admin/dialer/dialerexport/{world['exports'][0].pk}/change/")
    page.get_by_role("link", name="funil de resultados").click()
    expect(page.locator('[data-step="6"] [data-count]')).to_have_text("2")
    funnel = chart(page, ".painel-funil canvas")
    assert funnel["datasets"][0][1] == [3, 3, 2, 2, 2, 2]  # each stage within the one before
    screenshot(page, "painel-funil")
