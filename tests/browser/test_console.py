"""The operator's console end to end: a call from an unknown number, the search, the client, the tabulação."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from attendance.models import CallDisposition
from tests.browser.conftest import login
from tests.browser.test_screen_pop import post_webhook

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_unknown_number_search_open_and_tabulation_errors(page, live_server, operator, tenant, make_client):
    operator.membership.threecplus_agent_id = "1001"
    operator.membership.save()
    joana = make_client(name="Joana Devedora", phones=("+5511955556666",))
    make_client(name="Pedro Pagador", phones=("+5511933334444",))
    login(page, live_server, operator, next_url="/atendimento/")
    expect(page.locator("#console")).to_contain_text("Agente 1001 no 3C Plus")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)

    # Joana calls back from a number we do not have.
    status = post_webhook(
        live_server, tenant, {"call": {"id": "c-desconhecido", "phone": "5511900001111", "agent": "1001"}}
    )
    assert status == 201
    watch = page.locator("#call-watch")
    expect(watch).to_contain_text("Cliente não encontrado")
    search = watch.locator("form[data-search] input[name=q]")
    expect(search).to_have_value("(11) 90000-1111")
    search.fill(joana.formatted_cpf)
    watch.locator("form[data-search] button").click()
    results = page.locator("#search-results")
    expect(results).to_contain_text("Joana Devedora")
    expect(results).not_to_contain_text("Pedro Pagador")
    results.get_by_role("link", name="Atender").click()
    page.wait_for_url(f"**/atendimento/{joana.pk}/?call_id=c-desconhecido")
    expect(page.locator("h1")).to_have_text("Joana Devedora")

    # A successful tabulação leaves its green banner ...
    form = page.locator("#tabulation-form")
    form.get_by_role("radio", name="Caixa Postal").check()
    form.get_by_role("button", name="Registrar tabulação").click()
    expect(page.locator("#ws-messages")).to_contain_text("Tabulação registrada")

    # ... which must not stay next to an error: Contato Incorreto without a phone (the call has its tabulação now:
    # the form changes it).
    form.get_by_role("radio", name="Contato Incorreto").check()
    form.locator("[name=notes]").fill("ligou de outro número")
    form.get_by_role("button", name="Alterar tabulação").click()
    expect(form.locator(".ws-error")).to_contain_text("Informe qual telefone está incorreto.")
    expect(form.locator(".ws-error")).to_be_visible()
    expect(page.locator("#ws-messages")).not_to_contain_text("Tabulação registrada")
    expect(form.locator("[name=notes]")).to_have_value("ligou de outro número")

    # Retornar without a date, then with a past one.
    form.get_by_role("radio", name="Retornar", exact=True).check()
    form.get_by_role("button", name="Alterar tabulação").click()
    expect(form.locator(".ws-error")).to_contain_text("Informe a data e a hora do retorno.")
    expect(form.locator(".ws-error")).to_be_visible()
    past = (timezone.localtime() - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    form.locator("[name=callback_at]").fill(past)
    form.get_by_role("button", name="Alterar tabulação").click()
    expect(form.locator(".ws-error")).to_contain_text("futuras")
    expect(form.locator(".ws-error")).to_be_visible()
    expect(form.locator("[name=callback_at]")).to_have_value(past)
    assert CallDisposition.objects.filter(client=joana).count() == 1
    assert CallDisposition.objects.get(client=joana).call_id == "c-desconhecido"
