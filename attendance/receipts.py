"""The termo de quitação: the PDF a debtor receives when an agreement is quitado.

CDC art. 42-A: every collection document carries the name, address and CPF/CNPJ of the creditor; the agency that
issues it identifies itself the same way (its legal name, CNPJ and address from the tenant's settings, the
tenant's name when no legal name is set). Reversed payments are not listed: they did not pay anything.
"""

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance.models import Agreement, Payment
from common.parsing import format_brl, format_cpf
from common.pdf import Document
from tenants.agency_settings import agency_identity


def termo_de_quitacao(agreement: Agreement) -> bytes:
    if agreement.status != Agreement.Status.COMPLETED:
        raise ValidationError(_("Só um acordo quitado tem termo de quitação."))
    client, creditor, tenant = agreement.client, agreement.creditor, agreement.tenant
    agency = agency_identity(tenant)
    doc = Document(_("Termo de quitação — acordo #%(id)s") % {"id": agreement.pk}, footer=agency["name"])

    doc.paragraph(_("Credor"), bold=True)
    doc.paragraph(creditor.name)
    doc.paragraph(_("CNPJ: %(d)s") % {"d": creditor.document or _("não informado")})
    doc.ln(2)
    doc.paragraph(_("Assessoria de cobrança"), bold=True)
    doc.paragraph(agency["name"])
    doc.paragraph(_("CNPJ: %(d)s") % {"d": agency["cnpj"] or _("não informado")})
    if agency["address"]:
        doc.paragraph(_("Endereço: %(a)s") % {"a": agency["address"]})
    doc.ln(2)
    doc.paragraph(_("Devedor"), bold=True)
    doc.paragraph(_("%(n)s — CPF %(c)s") % {"n": client.name, "c": format_cpf(client.cpf)})
    address = ", ".join(
        part for part in (client.street, client.number, client.district, client.city, client.state) if part
    )
    if address:
        doc.paragraph(address)
    doc.ln(3)
    doc.paragraph(
        _(
            "Declaramos que %(n)s, CPF %(c)s, pagou integralmente o acordo #%(id)s, firmado em %(d)s com %(cr)s, no "
            "valor total de %(t)s, e damos plena quitação dos débitos abaixo, que não podem mais ser cobrados."
        )
        % {
            "n": client.name,
            "c": format_cpf(client.cpf),
            "id": agreement.pk,
            "d": timezone.localtime(agreement.created_at).strftime("%d/%m/%Y"),
            "cr": creditor.name,
            "t": format_brl(agreement.total),
        }
    )
    doc.ln(2)
    doc.paragraph(_("Títulos quitados"), bold=True)
    doc.table(
        [_("Contrato"), _("Parcela"), _("Vencimento"), _("Valor original")],
        [
            [
                d.contract_code,
                f"{d.installment_number}/{d.installment_total}",
                d.due_date.strftime("%d/%m/%Y"),
                format_brl(d.original_amount),
            ]
            for d in agreement.debts.order_by("due_date", "installment_number", "pk")
        ],
        [60, 30, 40, 50],
        ["L", "L", "L", "R"],
    )
    doc.ln(2)
    doc.paragraph(_("Pagamentos"), bold=True)
    paid = (
        Payment.objects.filter(installment__agreement=agreement, reversed_at__isnull=True)
        .select_related("installment")
        .order_by("paid_on", "pk")
    )
    doc.table(
        [_("Parcela"), _("Data"), _("Forma"), _("Valor")],
        [
            [str(p.installment), p.paid_on.strftime("%d/%m/%Y"), p.get_method_display(), format_brl(p.amount)]
            for p in paid
        ],
        [50, 40, 40, 50],
        ["L", "L", "L", "R"],
    )
    doc.ln(4)
    closed = timezone.localtime(agreement.closed_at) if agreement.closed_at else timezone.localtime()
    doc.paragraph(_("Acordo quitado em %(d)s.") % {"d": closed.strftime("%d/%m/%Y")})
    doc.paragraph(_("Emitido em %(d)s.") % {"d": timezone.localtime().strftime("%d/%m/%Y %H:%M")}, size=8)
    return doc.output_bytes()
