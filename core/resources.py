import types

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Prefetch, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources

from common.parsing import format_cpf, format_money_plain
from core.importing import (
    CLIENT_COLUMNS,
    EXPORT_ONLY_HEADERS,
    TEMPLATE_HEADERS,
    WalletRowParser,
    normalize_header,
    upsert_wallet_rows,
)
from core.models import Client, ClientPhone, Debt


class ClientResource(resources.ModelResource):
    """Carteira import/export for one tenant, in the same file format both ways (see core/importing.py).

    Export writes one row per client and título, the columns import reads and, after them, a few for people
    to read (EXPORT_ONLY_HEADERS: situação, saldo, atraso, último contato) that import ignores, so a file
    exported, edited and imported back changes only what was edited.
    """

    class Meta:
        model = Client
        fields = ()
        import_id_fields = ("external_id",)
        skip_unchanged = False
        report_skipped = True
        # Each row in its own savepoint: a bad row never leaves a half-written client.
        use_transactions = True

    def __init__(self, tenant=None, **kwargs):
        super().__init__(**kwargs)
        self.tenant = tenant
        self._parser = WalletRowParser(tenant) if tenant is not None else None
        self._parsed = {}
        # The file's columns, read from a row object of the same names (see iter_queryset).
        for column in [*TEMPLATE_HEADERS, *EXPORT_ONLY_HEADERS]:
            self.fields[column] = fields.Field(attribute=column, column_name=column)

    # Import -----------------------------------------------------------------
    def get_import_fields(self):
        return [fields.Field(column_name=name) for name in TEMPLATE_HEADERS]

    def before_import(self, dataset, **kwargs):
        if self.tenant is None:
            raise ValidationError(_("Importe como usuário de uma empresa: o superusuário não tem carteira própria."))
        # Headers as people type them (" Nome ", "CPF", "External ID") are the columns the parser reads.
        dataset.headers = [normalize_header(header or "") for header in dataset.headers]
        self._external_ids = {}
        self._warnings = []

    def before_import_row(self, row, row_number=None, **kwargs):
        self._external_ids[row_number] = str(row.get("external_id") or "").strip()[:64]
        # Row 1 of the data is line 2 of the file (line 1 is the header).
        parsed = self._parser.parse(dict(row), line=row_number + 1)
        self._parsed[row_number] = parsed
        self._warnings.extend((parsed.line, parsed.external_id, message) for message in parsed.warnings)

    def after_import(self, dataset, result, **kwargs):
        """The result carries the file's report (line, external_id, message): the rows refused and the
        warnings of rows imported with a phone skipped, for the preview and for Importações da carteira."""
        super().after_import(dataset, result, **kwargs)
        result.wallet_file_name = kwargs.get("file_name") or ""
        result.wallet_warnings = sorted(self._warnings)
        result.wallet_errors = sorted(
            [
                *(
                    (row.number + 1, self._external_ids.get(row.number, ""), " ".join(row.error.messages))
                    for row in result.invalid_rows
                ),
                *(
                    (number + 1, self._external_ids.get(number, ""), str(error.error))
                    for number, errors in result.row_errors()
                    for error in errors
                ),
            ]
        )

    def get_instance(self, instance_loader, row):
        external_id = str(row.get("external_id") or "").strip()
        return Client.objects.filter(tenant=self.tenant, external_id=external_id).first()

    def init_instance(self, row=None):
        return Client(tenant=self.tenant)

    def import_instance(self, instance, row, **kwargs):
        parsed = self._parsed[kwargs["row_number"]]
        instance.external_id = parsed.external_id
        instance.creditor_id = parsed.creditor_id
        instance.cpf = parsed.cpf
        for field, value in parsed.client.items():
            setattr(instance, field, value)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        if import_validation_errors:
            raise ValidationError(import_validation_errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        upsert_wallet_rows(self.tenant, [self._parsed[kwargs["row_number"]]])
        saved = Client.objects.get(tenant=self.tenant, external_id=instance.external_id)
        instance.pk = saved.pk
        instance.open_balance = saved.open_balance

    # Export -----------------------------------------------------------------
    def get_queryset(self):
        return Client.objects.filter(tenant=self.tenant)

    def filter_export(self, queryset, **kwargs):
        return (
            queryset.annotate(last_contact=last_contact())
            .select_related("creditor")
            .prefetch_related(
                Prefetch("phones", queryset=ClientPhone.objects.filter(active=True).order_by("priority", "id")),
                Prefetch("debts", queryset=Debt.objects.order_by("contract_code", "installment_number", "id")),
            )
        )

    def iter_queryset(self, queryset):
        for client in super().iter_queryset(queryset):
            yield from wallet_rows(client)


def last_contact():
    """The client's latest tabulação (a call or contact the atendimento recorded), by the relation's name: core
    does not import the atendimento (pyproject's layers)."""
    dispositions = apps.get_model("attendance", "CallDisposition")._default_manager
    latest = dispositions.filter(client=OuterRef("pk")).order_by("-created_at", "-id").values("created_at")[:1]
    return Subquery(latest)


def wallet_rows(client):
    """The file rows of one client: one per título (a client without títulos still has its row)."""
    contacted = getattr(client, "last_contact", None)
    common = {
        "nao_ligar": client.get_do_not_call_reason_display() if client.do_not_call_reason else "",
        "situacao": client.get_status_display(),
        "saldo": format_money_plain(client.open_balance),
        "dias_atraso": client.days_overdue,
        "ultimo_contato": timezone.localtime(contacted).strftime("%d/%m/%Y %H:%M") if contacted else "",
        "external_id": client.external_id,
        "cpf": format_cpf(client.cpf),
        "credor": client.creditor.name,
        "telefones": "; ".join(p.formatted for p in client.phones.all()),
        **{column: getattr(client, field) for column, field in CLIENT_COLUMNS.items()},
    }
    debts = list(client.debts.all()) or [None]
    for debt in debts:
        yield types.SimpleNamespace(
            **common,
            contrato=debt.contract_code if debt else "",
            parcela=debt.installment_number if debt else "",
            total_parcelas=debt.installment_total if debt else "",
            vencimento=debt.due_date.strftime("%d/%m/%Y") if debt else "",
            valor_original=format_money_plain(debt.original_amount) if debt else "",
            valor_pago=format_money_plain(debt.paid_amount) if debt else "",
        )
