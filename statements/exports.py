"""The statement as files for the creditor: XLSX (openpyxl) and PDF (common.pdf, fpdf2)."""

import io

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from common.parsing import format_brl, format_cpf
from common.pdf import Document
from common.spreadsheets import neutralize_row
from statements.models import StatementLine
from statements.services import Figures

MONEY_FORMAT = "#,##0.00"


def summary_rows(figures: Figures) -> list[tuple[str, object]]:
    totals = figures.totals()
    return [
        (_("Recebido no mês"), totals["received"]),
        (_("Estornos"), -totals["reversed_amount"]),
        (_("Principal"), totals["principal"]),
        (_("Juros"), totals["interest"]),
        (_("Multa"), totals["fine"]),
        (_("Honorários (receita da assessoria)"), totals["fees"]),
        (_("Crédito de clientes (a devolver ou aplicar)"), totals["credit"]),
        (_("Repasse devido ao credor"), totals["repasse"]),
    ]


def _status(figures: Figures) -> str:
    if figures.closed is None:
        return _("Em aberto (prévia: os valores podem mudar até o fechamento)")
    return _("Fechada em %(d)s") % {"d": timezone.localtime(figures.closed.closed_at).strftime("%d/%m/%Y %H:%M")}


def _line_values(line) -> list:
    return [
        line.day,
        str(StatementLine.Kind(line.kind).label),
        line.payment.client.name,
        format_cpf(line.payment.client.cpf),
        line.payment.client.external_id,
        *(line.signed(name) for name in ("amount", "principal", "interest", "fine", "fees", "credit")),
    ]


def line_headers() -> list[str]:
    return [
        _("Data"),
        _("Tipo"),
        _("Cliente"),
        _("CPF"),
        _("Código externo"),
        _("Valor"),
        _("Principal"),
        _("Juros"),
        _("Multa"),
        _("Honorários"),
        _("Crédito"),
    ]


def to_xlsx(tenant, figures: Figures) -> bytes:
    book = Workbook(write_only=True)
    summary = book.create_sheet(_("Resumo"))
    summary.append(neutralize_row([_("Prestação de contas"), tenant.name]))
    summary.append(neutralize_row([_("Credor"), figures.creditor.name]))
    summary.append(neutralize_row([_("Mês"), figures.month.strftime("%m/%Y")]))
    summary.append(neutralize_row([_("Situação"), _status(figures)]))
    summary.append([])
    for label, value in summary_rows(figures):
        summary.append([label, value])
    lines = book.create_sheet(_("Lançamentos"))
    lines.append(line_headers())
    for line in figures.lines:
        lines.append(neutralize_row(_line_values(line)))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_pdf(tenant, figures: Figures) -> bytes:
    doc = Document(
        _("Prestação de contas — %(c)s — %(m)s") % {"c": figures.creditor.name, "m": figures.month.strftime("%m/%Y")},
        footer=tenant.name,
    )
    doc.paragraph(_("Assessoria: %(t)s") % {"t": tenant.name})
    if figures.creditor.document:
        doc.paragraph(_("Credor: %(c)s — CNPJ %(d)s") % {"c": figures.creditor.name, "d": figures.creditor.document})
    doc.paragraph(_status(figures))
    doc.ln(3)
    doc.table(
        [_("Resumo"), _("Valor")],
        [[label, format_brl(value)] for label, value in summary_rows(figures)],
        [110, 50],
        ["L", "R"],
    )
    doc.ln(4)
    doc.paragraph(_("Lançamentos"), bold=True)
    headers = [_("Data"), _("Tipo"), _("Cliente"), _("Valor"), _("Principal"), _("Juros"), _("Multa"), _("Honor.")]
    rows = []
    for line in figures.lines:
        values = _line_values(line)
        rows.append([values[0].strftime("%d/%m/%Y"), values[1], values[2][:28]] + [format_brl(v) for v in values[5:10]])
    doc.table(headers, rows, [18, 20, 47, 22, 22, 20, 20, 21], ["L", "L", "L", "R", "R", "R", "R", "R"])
    return doc.output_bytes()
