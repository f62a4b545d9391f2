"""A creditor's CNPJ is checked by its digits like a debtor's CPF, on the page where it is typed."""

from core.models import Creditor
from tests.test_admin_forms import browser_post_data

ADD = "/admin/core/creditor/add/"


def post_creditor(http, document):
    data, _unreadable = browser_post_data(http.get(ADD).content.decode())
    data.update(name=["Banco Novo"], document=[document], _save=[""])
    return http.post(ADD, data)


def test_a_wrong_cnpj_is_refused_and_a_right_one_stored_formatted(client, tenant_admin, tenant):
    client.force_login(tenant_admin)
    refused = post_creditor(client, "11.222.333/0001-80")
    assert refused.status_code == 200
    assert "CNPJ inválido: 11.222.333/0001-80." in refused.content.decode()
    assert not Creditor.objects.filter(name="Banco Novo").exists()
    assert post_creditor(client, "11222333000181").status_code == 302
    assert Creditor.objects.get(tenant=tenant, name="Banco Novo").document == "11.222.333/0001-81"
