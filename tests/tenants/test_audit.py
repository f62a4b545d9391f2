"""The audit trail: who changed what, with before and after, seen and exported by tenant admins only."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from attendance import services as attendance
from attendance.negotiation import Proposal
from core.models import Client
from dialer import exports
from tenants.models import AuditEvent
from tests.tenants.test_settings import change_url, form_data

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


def test_settings_changes_are_recorded_masked(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    response = client.post(
        change_url(tenant), form_data(tenant, threecplus_domain="minhaempresa", threecplus_api_key="tok-abcdef-1234")
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=Action.SETTINGS_CHANGED)
    assert event.user == tenant_admin and event.tenant == tenant
    assert event.changes["threecplus_domain"] == ["", "minhaempresa"]
    assert event.changes["threecplus_api_key"] == ["", "••••1234"]
    client.post(f"/admin/tenants/tenant/{tenant.pk}/rotacionar-webhook/", form_data(tenant))
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_ROTATED, tenant=tenant).count() == 1


def test_creditor_rule_changes_keep_before_and_after(client, tenant, supervisor, creditor):
    client.force_login(supervisor)
    data = {
        "name": creditor.name,
        "document": "",
        "active": "on",
        "max_discount_percent": "25,00",
        "max_installments": "12",
        "min_installment_amount": "50,00",
        "min_entry_percent": "10",
        "monthly_interest_percent": "1",
        "fine_percent": "2",
        "fees_percent": "0",
        "late_tolerance_days": "5",
    }
    response = client.post(f"/admin/core/creditor/{creditor.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:500]
    event = AuditEvent.objects.get(action=Action.CREDITOR_CHANGED)
    assert event.changes == {"max_discount_percent": ["40.00", "25.00"]}
    assert event.object_repr == creditor.name and event.user == supervisor


def test_agreements_and_exports_are_recorded(tenant, operator, supervisor, make_client, creditor):
    creditor.max_discount_percent = Decimal("5")
    creditor.save()
    wallet_client = make_client()
    proposal = Proposal(
        discount_percent=Decimal("30"), first_due_date=timezone.localdate() + datetime.timedelta(days=1)
    )
    agreement = attendance.create_agreement(tenant, operator, wallet_client, proposal, justification="Só paga assim")
    attendance.approve_agreement(tenant, supervisor, agreement, "Aprovado pela supervisão")
    created, decided = AuditEvent.objects.filter(object_id=str(agreement.pk)).order_by("at", "id")
    assert created.action == Action.AGREEMENT_CREATED and created.user == operator
    assert created.changes["situação"] == ["", "Aguardando aprovação"]
    assert decided.changes == {
        "situação": ["Aguardando aprovação", "Ativo"],
        "observação": ["", "Aprovado pela supervisão"],
    }
    tenant.settings = {"threecplus_api_key": "configurado"}
    export = exports.create_export(tenant, supervisor, Client.objects.all(), campaign_id=7, enqueue=False)
    event = AuditEvent.objects.get(action=Action.DIALER_EXPORT)
    assert event.object_id == str(export.pk) and event.changes["clientes a enviar"] == ["", "0"]


def test_only_tenant_admins_see_the_audit(client, tenant, tenant_admin, supervisor, other_tenant):
    AuditEvent.objects.create(tenant=tenant, action=Action.SETTINGS_CHANGED, object_repr="Nossa")
    AuditEvent.objects.create(tenant=other_tenant, action=Action.SETTINGS_CHANGED, object_repr="Alheia")
    client.force_login(supervisor)
    assert client.get("/admin/tenants/auditevent/").status_code == 403
    assert client.get("/admin/tenants/auditevent/export/").status_code == 403
    client.force_login(tenant_admin)
    page = client.get("/admin/tenants/auditevent/?action__exact=configuracoes").content.decode()
    assert "Nossa" in page and "Alheia" not in page
    assert "/admin/tenants/auditevent/export/" in page  # exportable from the list, filters applied


def test_the_trail_reads_as_people_write(client, tenant, tenant_admin):
    """Labels, not field names; money, dates and yes/no as people read them; no raw JSON."""
    record = AuditEvent.objects.create
    record(
        tenant=tenant,
        action=Action.CREDITOR_CHANGED,
        object_type="credor",
        changes={"max_discount_percent": ["40.00", "25.00"], "min_installment_amount": ["50.00", "1234.5"]},
    )
    record(
        tenant=tenant,
        action=Action.DIALER_EXPORT,
        changes={"saldo em aberto": ["", "27271.2000000000"], "seleção": ["", '{"ids": [3, 4], "q": "Ana"}']},
    )
    record(
        tenant=tenant,
        action=Action.SETTINGS_CHANGED,
        changes={"threecplus_domain": ["", "alfa"], "ativa": ["True", "False"]},
    )
    record(tenant=tenant, action=Action.PAYMENT_POSTED, changes={"data": ["", "2026-03-02"]})
    client.force_login(tenant_admin)
    page = client.get("/admin/tenants/auditevent/").content.decode()
    from tenants.admin import AuditEventResource

    exported = AuditEventResource().export(AuditEvent.objects.filter(tenant=tenant)).csv
    for text in (page, exported):
        for readable in (
            "desconto máximo (%)",
            "40,00",
            "parcela mínima (R$)",
            "R$ 1.234,50",
            "R$ 27.271,20",
            "ids: 3, 4",
            "Domínio do 3C Plus",
            "Sim",
            "Não",
            "02/03/2026",
        ):
            assert readable in text, readable
        for raw in ("max_discount_percent", "27271.2", "threecplus_domain", "2026-03-02", '{"ids"', "True →"):
            assert raw not in text, raw


def test_admin_messages_agree_with_feminine_names(client, tenant, tenant_admin):
    """ "O empresa … foi alterado": Django's pt-BR messages assume a masculine name; ours name the record."""
    client.force_login(tenant_admin)
    html = client.post(change_url(tenant), form_data(tenant), follow=True).content.decode()
    assert "O empresa" not in html and "foi alterado" not in html
    assert "Alterações salvas: empresa" in html
    assert str(AuditEvent._meta.verbose_name_plural) == "eventos de auditoria"  # "3 eventos de auditoria"
