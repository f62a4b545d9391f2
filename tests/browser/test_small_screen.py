"""The operator's pages on a 420 px wide screen, the login page, and the error pages in the product's look."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
WIDER = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
    .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def test_operator_pages_fit_420_px(browser, browser_context_args, live_server, operator, make_client, screenshot):
    context = browser.new_context(**{**browser_context_args, "viewport": {"width": 420, "height": 900}})
    page = context.new_page()
    wallet_client = make_client(name="Joana Devedora com um Nome Bem Comprido da Silva", phones=("+5511987654321",))
    login(page, live_server, operator, next_url="/atendimento/")
    expect(page.locator("#console")).to_be_visible()
    for url in ("/atendimento/", f"/atendimento/{wallet_client.pk}/?call_id=c-1", "/atendimento/retornos/"):
        page.goto(f"{live_server.url}{url}")
        screenshot(page, "420-" + url.strip("/").replace("/", "-").split("?")[0])
        assert page.evaluate(OVERFLOW) <= 0, (url, page.evaluate(WIDER))
    context.close()


def test_login_page_shows_its_input_boxes(page, live_server, screenshot):
    page.goto(f"{live_server.url}/entrar/")
    screenshot(page, "entrar")
    for name in ("username", "password"):
        field = page.locator(f"input[name={name}]")
        expect(field).to_be_visible()
        style = field.evaluate(
            "el => { const s = getComputedStyle(el); return [s.borderTopWidth, s.borderTopStyle, s.borderTopColor] }"
        )
        assert style[0] != "0px" and style[1] != "none", (name, style)
        box = field.bounding_box()
        assert box["width"] > 150 and box["height"] > 24, (name, box)
