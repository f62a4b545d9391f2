"""An agreement is read and decided on its own admin page, by supervisors and tenant admins only."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from attendance.models import Agreement
from attendance.negotiation import Proposal
from attendance.services import create_agreement
from core.models import Debt
from tenants.models import Role
from tests.conftest import make_user
from tests.test_admin_forms import browser_post_data

D = Decimal


@pytest.fixture
def pending(tenant, operator, make_client):
    """Beyond the creditor's discount limit, so it waits for a decision."""
    debtor = make_client(name="Joana Devedora", debts=((D("1234.56"), 40),))
    agreement = create_agreement(
        tenant,
        operator,
        debtor,
        Proposal(
            discount_percent=D("60"),
            installments=3,
            first_due_date=timezone.localdate() + datetime.timedelta(days=5),
            fill_minimum_entry=True,
        ),
        justification="Cliente desempregado; paga a entrada com o FGTS.",
    )
    assert agreement.status == Agreement.Status.PENDING_APPROVAL
    return agreement


def page(agreement):
    return f"/admin/attendance/agreement/{agreement.pk}/change/"


def decide(client, agreement, button, note=""):
    """Press a button of the page as the browser would: the whole form posted, the note typed in it."""
    data, _unreadable = browser_post_data(client.get(page(agreement)).content.decode())
    data.update({f"attendance_agreement_{button}": "1", "decision_note": note})
    return client.post(page(agreement), data, follow=True)


@pytest.mark.parametrize("role", ["supervisor", "tenant_admin"])
def test_page_shows_the_schedule_money_as_brl_and_the_decision_buttons(request, client, role, pending):
    client.force_login(request.getfixturevalue(role))
    html = client.get(page(pending)).content.decode()
    installments = list(pending.installments.order_by("number"))
    assert len(installments) >= 3
    for installment in installments:
        assert installment.due_date.strftime("%d/%m/%Y") in html
        integer, cents = f"{installment.amount:.2f}".split(".")
        assert f"R$ {int(integer):,}".replace(",", ".") + f",{cents}" in html
    assert "Em aberto" in html or "A vencer" in html
    assert "R$ " + f"{pending.total:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") in html
    for label in ("Aprovar acordo", "Rejeitar acordo…", "Cancelar acordo"):
        assert label in html


def test_list_shows_money_as_brl(client, supervisor, pending):
    client.force_login(supervisor)
    html = client.get("/admin/attendance/agreement/").content.decode()
    assert "R$ " + f"{pending.total:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") in html


@pytest.mark.parametrize("role", ["supervisor", "tenant_admin"])
def test_approve_from_the_page_records_who_and_the_note(request, client, role, pending):
    user = request.getfixturevalue(role)
    client.force_login(user)
    response = decide(client, pending, "approve_on_page", note="Cliente fiel")
    assert response.status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == (Agreement.Status.ACTIVE, user)
    assert pending.decision_note == "Cliente fiel"
    assert not pending.debts.filter(status=Debt.Status.OPEN).exists()
    assert "acordo(s) aprovado(s)" in response.content.decode()
    # Active now: approving again is not offered, cancelling is.
    html = client.get(page(pending)).content.decode()
    assert "Aprovar acordo" not in html and "Cancelar acordo" in html
    decide(client, pending, "cancel_on_page")
    pending.refresh_from_db()
    assert pending.status == Agreement.Status.CANCELLED
    assert pending.debts.filter(status=Debt.Status.OPEN).exists()


def reject_page(agreement):
    return f"/admin/attendance/agreement/{agreement.pk}/rejeitar/"


def test_reject_asks_for_a_reason_and_a_confirmation(client, supervisor, pending):
    client.force_login(supervisor)
    # The change page only links to the confirmation: no button rejects in one click.
    html = client.get(page(pending)).content.decode()
    assert reject_page(pending) in html and "attendance_agreement_reject_on_page" not in html
    confirmation = client.get(reject_page(pending)).content.decode()
    assert "Confirmar rejeição" in confirmation and "Cliente desempregado" in confirmation
    response = client.post(reject_page(pending), {"reason": "   "})
    assert "Informe o motivo da rejeição: o operador recebe esse motivo." in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Agreement.Status.PENDING_APPROVAL
    response = client.post(reject_page(pending), {"reason": "Desconto alto demais"}, follow=True)
    pending.refresh_from_db()
    assert pending.status == Agreement.Status.REJECTED and pending.decided_by == supervisor
    assert pending.decision_note == "Desconto alto demais"
    assert "verá o motivo no console" in response.content.decode()


def test_the_list_offers_no_bulk_rejection(client, supervisor, pending):
    client.force_login(supervisor)
    html = client.get("/admin/attendance/agreement/").content.decode()
    assert 'value="reject"' not in html
    client.post("/admin/attendance/agreement/", {"action": "reject", "_selected_action": [pending.pk]}, follow=True)
    pending.refresh_from_db()
    assert pending.status == Agreement.Status.PENDING_APPROVAL


def test_a_stale_button_is_refused_with_a_message(client, supervisor, pending):
    client.force_login(supervisor)
    client.post(reject_page(pending), {"reason": "Fora da política"})
    response = decide(client, pending, "approve_on_page")
    pending.refresh_from_db()
    assert pending.status == Agreement.Status.REJECTED
    assert "Só acordos aguardando aprovação podem ser aprovados." in response.content.decode()


def test_a_get_decides_nothing(client, supervisor, pending):
    client.force_login(supervisor)
    client.get(page(pending) + "?attendance_agreement_approve_on_page=1")
    pending.refresh_from_db()
    assert pending.status == Agreement.Status.PENDING_APPROVAL


def test_operator_can_neither_see_nor_decide(client, operator, pending):
    client.force_login(operator)
    assert client.get(page(pending)).status_code in (302, 403)
    response = client.post(page(pending), {"attendance_agreement_approve_on_page": "1"})
    assert response.status_code in (302, 403)
    pending.refresh_from_db()
    assert pending.status == Agreement.Status.PENDING_APPROVAL


def test_another_tenants_agreement_is_a_404(client, other_tenant, make_client, pending):
    outsider = make_user(other_tenant, Role.SUPERVISOR, username="sup-outra")
    client.force_login(outsider)
    assert client.get(page(pending)).status_code == 404
    assert client.post(page(pending), {"attendance_agreement_approve_on_page": "1"}).status_code == 404
    pending.refresh_from_db()
    assert pending.status == Agreement.Status.PENDING_APPROVAL


def test_tabulations_filter_by_operator_type_and_date(client, tenant, supervisor, operator, make_client):
    from attendance.models import CallDisposition, DispositionType

    colleague = make_user(tenant, Role.OPERATOR, username="colega")
    voicemail = DispositionType.objects.get(tenant=None, behavior="caixa_postal")
    wrong = DispositionType.objects.get(tenant=None, behavior="contato_incorreto")
    debtor = make_client()
    rows = ((operator, voicemail, "CALL-A"), (colleague, wrong, "CALL-B"), (colleague, voicemail, "CALL-C"))
    for user, kind, call in rows:
        CallDisposition.objects.create(tenant=tenant, client=debtor, operator=user, type=kind, call_id=call)
    CallDisposition.objects.filter(call_id="CALL-C").update(
        created_at=timezone.make_aware(datetime.datetime(2026, 1, 10, 12))
    )
    client.force_login(supervisor)
    url = "/admin/attendance/calldisposition/"

    def shown(**query):
        html = client.get(url, query).content.decode()
        return {call for call in ("CALL-A", "CALL-B", "CALL-C") if call in html}

    assert shown() == {"CALL-A", "CALL-B", "CALL-C"}
    assert shown(operator__id__exact=colleague.pk) == {"CALL-B", "CALL-C"}
    assert shown(type__id__exact=voicemail.pk) == {"CALL-A", "CALL-C"}
    assert shown(created_at_from="09/01/2026", created_at_to="11/01/2026") == {"CALL-C"}
    html = client.get(url).content.decode()
    assert "colega" in html and "Caixa Postal" in html  # the filters offer the tenant's operators and types


def test_agreement_and_tabulation_lists_keep_dates_and_money_on_one_line(client, supervisor, operator, pending):
    from attendance.models import CallDisposition, DispositionType

    CallDisposition.objects.create(
        tenant=pending.tenant,
        client=pending.client,
        operator=operator,
        type=DispositionType.objects.get(tenant=None, behavior="caixa_postal"),
    )
    client.force_login(supervisor)
    today = timezone.localdate().strftime("%d/%m/%Y")
    for url in ("/admin/attendance/agreement/", "/admin/attendance/calldisposition/"):
        html = client.get(url).content.decode()
        assert f'<span class="whitespace-nowrap">{today} ' in html, url
    html = client.get("/admin/attendance/agreement/").content.decode()
    assert '<span class="whitespace-nowrap">R$ ' in html
