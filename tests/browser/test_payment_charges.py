"""The atendimento page shows the provider's charge of each installment: the dynamic PIX code, its QR and the
boleto line, once the worker created them at the sandbox PSP."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from attendance.models import Agreement
from payments.models import Charge
from tests.browser.conftest import login
from tests.payments.conftest import configure_provider, immediate_tasks, psp_server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_atendimento_shows_the_dynamic_pix_code_qr_and_boleto_line(
    page,
    live_server,
    operator,
    make_client,
    lenient,
    psp_server,  # noqa: F811
    immediate_tasks,  # noqa: F811
):
    configure_provider(lenient.tenant, psp_server.url, payments_boleto="true")
    client = make_client(name="Eva Dinamica", debts=((Decimal("900.00"), -10),))
    login(page, live_server, operator, next_url=f"/atendimento/{client.pk}/")
    page.get_by_test_id("open-negotiation").click()
    page.get_by_role("button", name="à vista").click()
    expect(page.locator("#simulation-ok")).to_be_visible()
    page.get_by_test_id("create-agreement").click()
    expect(page.locator("#agreement-banner")).to_contain_text("ativo")
    agreement = Agreement.objects.get()
    pix = Charge.objects.get(installment__agreement=agreement, kind="pix", status="ativa")
    boleto = Charge.objects.get(installment__agreement=agreement, kind="boleto", status="ativa")

    page.reload()
    number = pix.installment.number
    panel = page.get_by_test_id(f"pix-{number}")
    panel.locator("summary").click()
    assert page.locator(f"#pix-code-{number}").input_value() == pix.pix_code
    # A dynamic code carries the PSP's location (field 26, 25), not the key and the static code's txid.
    assert "/qr/v2/" in pix.pix_code and f"AC{agreement.pk}P" not in pix.pix_code
    expect(panel.locator("svg")).to_be_visible()
    expect(page.get_by_test_id(f"boleto-line-{number}")).to_have_text(boleto.boleto_line)
