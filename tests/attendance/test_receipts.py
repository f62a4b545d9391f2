"""The termo de quitação: downloaded from the atendimento page and the agreement page once the agreement is quitado,
read back with pypdf: the creditor and the agency identified (CDC art. 42-A), the debtor, the paid amounts."""

import datetime
import io
from decimal import Decimal

import pypdf
import pytest
from django.utils import timezone

from attendance.models import Agreement, Payment
from attendance.negotiation import Proposal
from attendance.payments import PaymentInput, post_payment, reverse_payment
from attendance.services import create_agreement
from common.parsing import format_brl, format_cpf
from tenants.agency_settings import AGENCY_ADDRESS, AGENCY_CNPJ, AGENCY_NAME
from tenants.services import save_tenant
from tenants.settings_schema import clean_settings

D = Decimal
YESTERDAY = timezone.localdate() - datetime.timedelta(days=1)


@pytest.fixture
def quitado(tenant, tenant_admin, supervisor, operator, creditor, make_client):
    creditor.min_entry_percent = D("0")
    creditor.document = "11.222.333/0001-81"
    creditor.save()
    client = make_client(external_id="Q1", debts=((D("300.00"), 40),))
    agreement = create_agreement(
        tenant, operator, client, Proposal(installments=2, first_due_date=timezone.localdate())
    )
    for inst in agreement.installments.all():
        post_payment(tenant, supervisor, PaymentInput(amount=inst.amount, paid_on=YESTERDAY), installment=inst)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.COMPLETED
    return agreement


def update_settings(tenant, user, new: dict):
    tenant.settings = clean_settings(new, tenant.settings)
    save_tenant(tenant, user)


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def test_the_operator_downloads_the_termo_from_the_atendimento_page(client, tenant, tenant_admin, operator, quitado):
    update_settings(
        tenant,
        tenant_admin,
        {
            **tenant.settings,
            AGENCY_NAME: "Alfa Cobranças Ltda.",
            AGENCY_CNPJ: "11444777000161",
            AGENCY_ADDRESS: "Rua das Flores, 100, São Paulo - SP",
        },
    )
    client.force_login(operator)
    page = client.get(f"/atendimento/{quitado.client_id}/").content.decode()
    url = f"/atendimento/{quitado.client_id}/acordos/{quitado.pk}/termo-de-quitacao/"
    assert url in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Termo de quitação" in text
    assert "Banco Horizonte" in text and "11.222.333/0001-81" in text
    assert "Alfa Cobranças Ltda." in text and "11.444.777/0001-61" in text and "Rua das Flores, 100" in text
    assert quitado.client.name in text and format_cpf(quitado.client.cpf) in text
    assert format_brl(quitado.total) in text
    for inst in quitado.installments.all():
        assert format_brl(inst.amount) in text


def test_the_agreement_page_links_the_termo_and_a_reversal_takes_it_away(client, tenant, supervisor, quitado):
    client.force_login(supervisor)
    page = client.get(f"/admin/attendance/agreement/{quitado.pk}/change/").content.decode()
    url = f"/atendimento/{quitado.client_id}/acordos/{quitado.pk}/termo-de-quitacao/"
    assert url in page
    text = pdf_text(client.get(url).content)
    assert "Agência Alfa" in text  # no legal name set: the tenant's name
    reverse_payment(tenant, supervisor, Payment.objects.first(), kind="erro_manual", reason="lançado em dobro")
    assert client.get(url).status_code == 404  # no longer quitado
    assert url not in client.get(f"/admin/attendance/agreement/{quitado.pk}/change/").content.decode()


def test_another_tenants_termo_is_a_404(client, other_tenant, quitado):
    from tests.conftest import make_user

    client.force_login(make_user(other_tenant, "operador"))
    url = f"/atendimento/{quitado.client_id}/acordos/{quitado.pk}/termo-de-quitacao/"
    assert client.get(url).status_code == 404


def test_an_invalid_agency_cnpj_is_refused(tenant, tenant_admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        update_settings(tenant, tenant_admin, {**tenant.settings, AGENCY_CNPJ: "11.111.111/1111-11"})
    assert "CNPJ inválido" in str(error.value)
