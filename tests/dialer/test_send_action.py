import pytest
from django.urls import reverse

from core.models import Client
from dialer.models import DialerExport
from tenants.settings_schema import clean_settings
from tests.dialer.conftest import TOKEN

CHANGELIST = "/admin/core/client/"


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def configured(tenant, sandbox_server):
    tenant.settings = clean_settings({"threecplus_base_url": sandbox_server.url, "threecplus_api_key": TOKEN})
    tenant.save()
    return tenant


def test_select_all_preview_confirm_and_run(
    client, supervisor, configured, make_client, sandbox, immediate_tasks, django_capture_on_commit_callbacks
):
    for n in range(5):
        make_client(name=f"Cliente {n}")
    make_client(name="Sem Fone", phones=())
    client.force_login(supervisor)
    # "Select all N": the page's checkboxes are ticked and select_across is on.
    base = {
        "action": "send_to_dialer",
        "select_across": "1",
        "index": "0",
        "_selected_action": list(Client.objects.values_list("pk", flat=True)[:2]),
    }
    response = client.post(CHANGELIST + "?discavel=", base)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="preview-selected" class="font-semibold">6<' in html
    assert 'id="preview-to-send" class="font-semibold">5<' in html
    assert "sem telefone discável: <strong>1</strong>" in html
    assert "Cobrança - Carteira Geral" in html
    campaign = response.context["form"].fields["campaign"].choices[0][0]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            CHANGELIST, {**base, "confirm": "1", "campaign": campaign, "list_name": "Lista de teste"}
        )
    export = DialerExport.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:dialer_dialerexport_change", args=[export.pk])
    assert export.status == DialerExport.Status.DONE and export.sent_count == 5 and export.list_name == "Lista de teste"
    assert export.requested_by == supervisor
    page = client.get(response.url).content.decode()
    assert 'data-status="concluido"' in page and "5 / 5" in page
    assert len(sandbox.account("alfa").contacts[export.list_id]) == 5


def test_only_the_selected_rows_when_not_select_all(client, tenant_admin, configured, make_client, sandbox):
    picked = make_client(name="Escolhido")
    make_client(name="Outro")
    client.force_login(tenant_admin)
    response = client.post(CHANGELIST, {"action": "send_to_dialer", "index": "0", "_selected_action": [picked.pk]})
    assert 'id="preview-selected" class="font-semibold">1<' in response.content.decode()


def test_a_selection_with_nothing_to_send_offers_a_button_that_looks_and_is_disabled(
    client, tenant_admin, configured, make_client, sandbox
):
    no_phone = make_client(name="Sem Fone", phones=())
    client.force_login(tenant_admin)
    response = client.post(CHANGELIST, {"action": "send_to_dialer", "index": "0", "_selected_action": [no_phone.pk]})
    html = response.content.decode()
    assert 'id="preview-to-send" class="font-semibold">0<' in html
    button = html[html.rindex("<button", 0, html.index('data-testid="confirm-send"')) : html.index("Enviar 0 clientes")]
    assert "disabled" in button and "cursor: not-allowed" in button
    assert "Nenhum cliente da seleção pode ser enviado agora." in button


def test_without_3cplus_settings_the_action_explains(client, tenant_admin, tenant, make_client):
    wallet_client = make_client()
    client.force_login(tenant_admin)
    response = client.post(
        CHANGELIST,
        {"action": "send_to_dialer", "select_across": "1", "index": "0", "_selected_action": [wallet_client.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "ainda não tem o 3C Plus configurado" in html
    assert f"/admin/tenants/tenant/{tenant.pk}/change/" in html
    assert not DialerExport.objects.exists()


def test_the_action_is_offered_to_back_office_only(client, tenant_admin, operator):
    client.force_login(tenant_admin)
    assert "send_to_dialer" in client.get(CHANGELIST).content.decode()
    client.force_login(operator)
    assert client.get(CHANGELIST).status_code == 302  # operators never reach the admin


def test_exports_are_scoped_to_the_tenant(client, tenant_admin, other_tenant):
    foreign = DialerExport.objects.create(tenant=other_tenant, campaign_id=1, list_name="Deles")
    client.force_login(tenant_admin)
    assert "Deles" not in client.get("/admin/dialer/dialerexport/").content.decode()
    assert client.get(f"/admin/dialer/dialerexport/{foreign.pk}/progresso/").status_code == 404
    assert client.get(f"/admin/dialer/dialerexport/{foreign.pk}/falhas.csv").status_code == 404


def test_carteira_filter_sent_to_dialer(client, tenant_admin, configured, make_client, sandbox):
    from dialer import exports

    sent = make_client(name="Já Enviado")
    make_client(name="Nunca Enviado")
    campaign = next(iter(sandbox.account("alfa").campaigns))
    export = exports.create_export(
        configured, None, Client.objects.filter(pk=sent.pk), campaign_id=campaign, enqueue=False
    )
    exports.run_export(export.pk)
    client.force_login(tenant_admin)
    html = client.get(CHANGELIST, {"discador": "24h"}).content.decode()
    assert "Já Enviado" in html and "Nunca Enviado" not in html
    html = client.get(CHANGELIST, {"discador": "nunca"}).content.decode()
    assert "Nunca Enviado" in html and "Já Enviado" not in html
    # …and the client's timeline shows the export.
    html = client.get(f"/atendimento/{sent.pk}/").content.decode()
    assert "Enviado ao discador" in html


def test_export_items_filter_offers_only_the_tenants_exports(client, tenant_admin, tenant, other_tenant):
    DialerExport.objects.create(tenant=tenant, campaign_id=1, list_name="Lista Nossa A")
    DialerExport.objects.create(tenant=tenant, campaign_id=1, list_name="Lista Nossa B")
    DialerExport.objects.create(tenant=other_tenant, campaign_id=1, list_name="Lista Alheia")
    client.force_login(tenant_admin)
    html = client.get("/admin/dialer/dialerexportitem/").content.decode()
    assert "Lista Nossa A" in html and "Lista Alheia" not in html


def test_submitting_the_confirmation_twice_creates_one_export(
    client, supervisor, configured, make_client, sandbox, django_capture_on_commit_callbacks
):
    """A double click, or back and submit again: the form's token finds the first export."""
    import re

    for _ in range(3):
        make_client()
    client.force_login(supervisor)
    base = {
        "action": "send_to_dialer",
        "index": "0",
        "_selected_action": list(Client.objects.values_list("pk", flat=True)),
    }
    html = client.post(CHANGELIST, base).content.decode()
    token = re.search(r'name="token" value="([0-9a-f-]{36})"', html).group(1)
    campaign = next(iter(sandbox.account("alfa").campaigns))
    confirm = {**base, "confirm": "1", "campaign": campaign, "list_name": "Lista", "token": token}
    with django_capture_on_commit_callbacks() as queued:
        first = client.post(CHANGELIST, confirm)
        second = client.post(CHANGELIST, confirm)
    export = DialerExport.objects.get()
    assert first.url == second.url == reverse("admin:dialer_dialerexport_change", args=[export.pk])
    assert len(queued) == 1, "one task"
    # A new visit to the confirmation page is a new form: a new export.
    again = client.post(CHANGELIST, base).content.decode()
    assert token not in again
    client.post(CHANGELIST, {**confirm, "token": re.search(r'name="token" value="([0-9a-f-]{36})"', again).group(1)})
    assert DialerExport.objects.count() == 2


def test_the_progress_fragment_carries_every_figure_that_changes_while_sending(client, tenant_admin, tenant):
    """The page polls only the fragment: a running figure shown outside it would contradict the bar."""
    import datetime

    from django.utils import timezone

    export = DialerExport.objects.create(
        tenant=tenant, campaign_id=1, list_name="Lote", status=DialerExport.Status.RUNNING, to_send_count=10
    )
    client.force_login(tenant_admin)
    DialerExport.objects.filter(pk=export.pk).update(
        sent_count=7,
        failed_count=2,
        sent_phones=13,
        list_id=4242,
        status=DialerExport.Status.PARTIAL,
        started_at=timezone.make_aware(datetime.datetime(2026, 3, 2, 10, 5)),
        finished_at=timezone.make_aware(datetime.datetime(2026, 3, 2, 10, 9)),
        error_summary="Telefone inválido",
    )
    fragment = client.get(f"/admin/dialer/dialerexport/{export.pk}/progresso/").content.decode()
    figures = ("Concluído com falhas", "9 / 10", "7", "2", "13", "4242", "02/03/2026 10:05", "02/03/2026 10:09")
    for figure in (*figures, "inválido"):
        assert figure in fragment, figure
    page = client.get(f"/admin/dialer/dialerexport/{export.pk}/change/").content.decode().lower()
    for label in ("clientes enviados", "clientes com falha", "telefones enviados", "lista (id)", "início", "erros"):
        assert page.count(label) == 1, label  # once, inside the fragment
