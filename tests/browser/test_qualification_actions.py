"""The tenant's admin chooses, on the qualifications page, what each 3C Plus qualification does here."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dialer.models import Qualification, QualificationMapping, QualifiedAction
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_changes_what_a_qualification_does(page, live_server, tenant, tenant_admin):
    synced = {"list_id": 7, "list_name": "Cobrança", "synced_at": timezone.now()}
    callback = Qualification.objects.create(tenant=tenant, remote_id=71, name="Agendar retorno", **synced)
    refused = Qualification.objects.create(tenant=tenant, remote_id=72, name="Recusou negociar", **synced)
    wrong = Qualification.objects.create(tenant=tenant, remote_id=73, name="Fala com outra pessoa", **synced)
    QualificationMapping.objects.create(tenant=tenant, list_id=7, behavior="contato_incorreto", qualification=wrong)

    login(page, live_server, tenant_admin, next_url="/admin/dialer/qualification/")
    actions = page.locator("#qualification-actions")
    # Until chosen, each reads its default: by name, by the tabulação mapped to it, else nothing.
    expect(actions.get_by_label("Agendar retorno")).to_have_value(QualifiedAction.CALLBACK)
    expect(actions.get_by_label("Fala com outra pessoa")).to_have_value(QualifiedAction.WRONG_NUMBER)
    expect(actions.get_by_label("Recusou negociar")).to_have_value(QualifiedAction.NOTHING)

    actions.get_by_label("Recusou negociar").select_option(label="Não ligar para o cliente")
    actions.get_by_label("Agendar retorno").select_option(label="Nada")
    actions.get_by_role("button", name="Salvar ações").click()

    expect(page.locator("body")).to_contain_text("Ações das qualificações salvas")
    expect(page.locator("#qualification-actions").get_by_label("Recusou negociar")).to_have_value(
        QualifiedAction.DO_NOT_CALL
    )
    assert {q.name: q.action for q in Qualification.objects.filter(tenant=tenant)} == {
        callback.name: QualifiedAction.NOTHING,
        refused.name: QualifiedAction.DO_NOT_CALL,
        wrong.name: QualifiedAction.WRONG_NUMBER,
    }
