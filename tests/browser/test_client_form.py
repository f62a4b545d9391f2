"""The client form in a real browser: the CPF box can be seen and typed in like the others, and the responsible
operator is chosen by name among the tenant's operators."""

import pytest
from playwright.sync_api import expect

from core.models import Client
from tenants.models import Role
from tests.browser.conftest import login
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOX_STYLE = """element => {
    const style = getComputedStyle(element);
    return [style.borderTopWidth, style.borderTopStyle, style.borderTopColor, style.backgroundColor, style.height];
}"""


def test_the_cpf_box_on_adicionar_cliente_looks_like_the_other_boxes(page, live_server, tenant_admin, creditor):
    login(page, live_server, tenant_admin, next_url="/admin/core/client/add/")
    cpf, name = page.locator("input[name=cpf]"), page.locator("input[name=name]")
    expect(cpf).to_be_visible()
    style = cpf.evaluate(BOX_STYLE)
    assert style[0] != "0px" and style[1] != "none", style  # a border one can see
    assert style == name.evaluate(BOX_STYLE)
    cpf.fill("529.982.247-25")
    expect(cpf).to_have_value("529.982.247-25")


def test_the_responsible_operator_is_chosen_by_name_among_the_tenants_operators(
    page, live_server, tenant, other_tenant, tenant_admin, make_client
):
    ana = make_user(tenant, Role.OPERATOR, username="ana")
    ana.first_name, ana.last_name = "Ana", "Operadora"
    ana.save()
    make_user(tenant, Role.SUPERVISOR, username="sup")
    make_user(other_tenant, Role.OPERATOR, username="de-fora")
    debtor = make_client(name="Cliente Atribuído")
    login(page, live_server, tenant_admin, next_url=f"/admin/core/client/{debtor.pk}/change/")
    select = page.locator("select[name=assigned_operator]")
    expect(select).to_be_visible()
    options = [text.strip() for text in select.locator("option").all_inner_texts()]
    assert "Ana Operadora" in options
    assert not {"de-fora", "sup", tenant_admin.username}.intersection(options), options
    select.select_option(label="Ana Operadora")
    page.locator("button[name=_continue]").first.click()
    expect(page.get_by_text("Alterações salvas", exact=False)).to_be_visible()
    assert Client.objects.get(pk=debtor.pk).assigned_operator == ana
