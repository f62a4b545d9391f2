"""Issue 23, item 6: the tenant's 3C Plus section says what to set up in 3C Plus, and "Testar conexão" checks what it
can (the default campaign, its identifier setting, the webhook events received, the operators' agent ids)."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from dialer.models import WebhookDelivery
from tenants.settings_schema import clean_settings
from tests.dialer.conftest import TOKEN

pytestmark = pytest.mark.django_db

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
MONDAY_9AM = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=SAO_PAULO)


def page_url(tenant):
    return f"/admin/tenants/tenant/{tenant.pk}/change/"


def press_test_connection(client, tenant):
    """What the "Testar conexão" button does (htmx GET), returning the checks as {label: (status, text)}."""
    html = client.get(f"/admin/tenants/tenant/{tenant.pk}/testar-3cplus/", HTTP_HX_REQUEST="true").content.decode()
    checks = re.findall(r'data-status="([^"]+)">.*?<strong>([^<]+):</strong>\s*(.*?)\s*</span>', html, flags=re.DOTALL)
    return html, {label: (status, text) for status, label, text in checks}


def deliver(tenant, event, at):
    delivery = WebhookDelivery.objects.create(tenant=tenant, event=event, result=WebhookDelivery.Result.PROCESSED)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(received_at=at)


@pytest.fixture
def set_up(dialer_tenant, campaign_id, tenant_admin):
    dialer_tenant.settings = clean_settings(
        {**dialer_tenant.settings, "threecplus_campaign_id": campaign_id}, stored=dialer_tenant.settings
    )
    dialer_tenant.save()
    return dialer_tenant


def test_the_section_says_what_to_configure_in_3c_plus(client, dialer_tenant, tenant_admin, operator):
    client.force_login(tenant_admin)
    html = client.get(page_url(dialer_tenant)).content.decode()
    guide = html[html.index('data-testid="setup-guide"') :]
    url = f"https://cobranca.exemplo.com.br/dialer/webhooks/3cplus/{dialer_tenant.webhook_secret}/"
    assert f'data-testid="setup-webhook-url">{url}<' in guide
    assert 'data-testid="setup-event">call-was-connected<' in guide
    assert 'data-testid="setup-event">call-history-was-created<' in guide
    assert "Copiar identificador" in guide and "ID do agente no 3C Plus" in guide
    assert "1 operador ativo ainda sem ID de agente" in guide
    assert TOKEN not in html and dialer_tenant.settings["threecplus_api_key"] not in html


def test_testar_conexao_checks_campaign_webhook_events_and_agents(client, set_up, sandbox, campaign_id, operator):
    tenant = set_up
    client.force_login(tenant.memberships.get(role="admin").user)
    friday_evening = MONDAY_9AM - datetime.timedelta(days=2, hours=15)  # a weekend without calls is fine
    deliver(tenant, "call-was-connected", friday_evening)
    deliver(tenant, "call-history-was-created", MONDAY_9AM - datetime.timedelta(days=5))
    with freeze_time(MONDAY_9AM, tick=True):
        html, checks = press_test_connection(client, tenant)
    assert "Conectado: 3 campanhas encontradas" in html
    assert checks["Campanha padrão"][0] == "ok"
    assert checks["Campanha ativa"][0] == "ok"
    assert checks["Identificador na ligação"][0] == "ok"
    assert checks["Evento call-was-connected"] == ("ok", "Última entrega em 04/12/2026 18:00.")
    status, text = checks["Evento call-history-was-created"]
    assert status == "falha" and "02/12/2026 09:00, há mais de 3 dias" in text
    status, text = checks["ID de agente dos operadores"]
    assert status == "falha" and operator.username in text

    # The admin fixes the operator; 3C Plus has the campaign paused and not copying the identifier.
    operator.membership.threecplus_agent_id = "1003"
    operator.membership.save()
    campaign = sandbox.account("alfa").campaigns[campaign_id]
    campaign["paused"], campaign["copy_identifier"] = True, False
    with freeze_time(MONDAY_9AM, tick=True):
        _html, checks = press_test_connection(client, tenant)
    assert checks["ID de agente dos operadores"][0] == "ok"
    assert checks["Campanha ativa"][0] == "falha" and "pausada" in checks["Campanha ativa"][1]
    status, text = checks["Identificador na ligação"]
    assert status == "falha" and "Copiar identificador" in text


def test_a_campaign_gone_from_3c_plus_and_no_events_are_failures(client, set_up, tenant_admin):
    tenant = set_up
    tenant.settings = {**tenant.settings, "threecplus_campaign_id": 987654}
    tenant.save()
    client.force_login(tenant_admin)
    _html, checks = press_test_connection(client, tenant)
    status, text = checks["Campanha padrão"]
    assert status == "falha" and "987654 não existe no 3C Plus" in text
    assert "Campanha ativa" not in checks
    for event in ("call-was-connected", "call-history-was-created"):
        status, text = checks[f"Evento {event}"]
        assert status == "falha" and "Nenhuma entrega nos últimos 30 dias" in text


def test_without_a_connection_the_campaign_is_not_verified_but_events_still_are(client, tenant, tenant_admin):
    tenant.settings = clean_settings({"threecplus_campaign_id": 5})
    tenant.save()
    client.force_login(tenant_admin)
    html, checks = press_test_connection(client, tenant)
    assert "ainda não tem o 3C Plus configurado" in html
    assert checks["Campanha padrão"][0] == "nao_verificado"
    assert checks["Evento call-was-connected"][0] == "falha"
