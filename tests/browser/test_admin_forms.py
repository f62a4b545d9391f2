"""The two everyday forms with money in them, saved in a real browser."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from core.models import Creditor, Debt
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_client_with_its_titulos_saves_unchanged_and_with_an_edit(page, live_server, tenant_admin, make_client):
    client = make_client(debts=((Decimal("1553.60"), 40), (Decimal("27271.20"), 10), (Decimal("80.00"), 5)))
    login(page, live_server, tenant_admin, next_url=f"/admin/core/client/{client.pk}/change/")
    amount = page.locator("input[name='debts-0-original_amount']")
    expect(amount).to_have_value("1553,60")  # a number input would show nothing here
    expect(page.locator("input[name='debts-1-original_amount']")).to_have_value("27271,20")
    page.locator("button[name=_continue]").first.click()
    expect(page.locator(".errorlist")).to_have_count(0)
    expect(page.get_by_text("Alterações salvas", exact=False)).to_be_visible()
    assert sorted(Debt.objects.filter(client=client).values_list("original_amount", flat=True)) == [
        Decimal("80.00"),
        Decimal("1553.60"),
        Decimal("27271.20"),
    ]

    page.locator("input[name='debts-2-paid_amount']").fill("1.000,5")
    page.locator("input[name='debts-2-original_amount']").fill("1234.56")
    page.locator("button[name=_continue]").first.click()
    expect(page.get_by_text("Alterações salvas", exact=False)).to_be_visible()
    debt = Debt.objects.get(client=client, original_amount=Decimal("1234.56"))
    assert debt.paid_amount == Decimal("1000.50")


def test_a_new_creditor_keeps_its_negotiation_rules(page, live_server, tenant_admin):
    login(page, live_server, tenant_admin, next_url="/admin/core/creditor/add/")
    page.locator("input[name=name]").fill("Banco Novo")
    page.locator("input[name=max_discount_percent]").fill("12,5")
    page.locator("input[name=max_installments]").fill("10")
    page.locator("input[name=min_installment_amount]").fill("1.234,56")
    page.locator("input[name=min_entry_percent]").fill("10")
    page.locator("input[name=monthly_interest_percent]").fill("1.99")
    page.locator("input[name=fine_percent]").fill("2")
    page.locator("input[name=fees_percent]").fill("0")
    page.locator("button[name=_continue]").first.click()
    expect(page.get_by_text("Cadastro concluído", exact=False)).to_be_visible()
    expect(page.locator("input[name=min_installment_amount]")).to_have_value("1234,56")
    expect(page.locator("input[name=max_discount_percent]")).to_have_value("12,50")

    page.locator("button[name=_continue]").first.click()  # reopen and save unchanged
    expect(page.get_by_text("Alterações salvas", exact=False)).to_be_visible()
    creditor = Creditor.objects.get(name="Banco Novo")
    assert creditor.min_installment_amount == Decimal("1234.56")
    assert creditor.max_discount_percent == Decimal("12.50")
    assert creditor.monthly_interest_percent == Decimal("1.99")


def test_a_supervisor_approves_an_agreement_on_its_page(page, live_server, supervisor, operator, make_client):
    import datetime

    from django.utils import timezone

    from attendance.models import Agreement
    from attendance.negotiation import Proposal
    from attendance.services import create_agreement

    debtor = make_client(debts=((Decimal("1234.56"), 40),))
    first = timezone.localdate() + datetime.timedelta(days=5)
    agreement = create_agreement(
        debtor.tenant,
        operator,
        debtor,
        Proposal(discount_percent=Decimal("60"), installments=3, first_due_date=first, fill_minimum_entry=True),
        justification="Cliente antigo, sempre pagou",
    )
    assert agreement.status == Agreement.Status.PENDING_APPROVAL
    login(page, live_server, supervisor, next_url=f"/admin/attendance/agreement/{agreement.pk}/change/")
    expect(page.get_by_text(first.strftime("%d/%m/%Y")).first).to_be_visible()  # the schedule is on the page
    page.locator("textarea[name=decision_note]").fill("Cliente antigo")
    page.get_by_role("button", name="Aprovar acordo").click()
    expect(page.get_by_text("1 acordo(s) aprovado(s).")).to_be_visible()
    expect(page.get_by_role("button", name="Aprovar acordo")).to_have_count(0)
    agreement.refresh_from_db()
    assert (agreement.status, agreement.decided_by_id, agreement.decision_note) == (
        Agreement.Status.ACTIVE,
        supervisor.pk,
        "Cliente antigo",
    )
