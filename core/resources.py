from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from import_export import fields, resources

from core.importing import TEMPLATE_HEADERS, WalletRowParser, upsert_wallet_rows
from core.models import Client, ClientPhone
from core.parsing import format_cpf


class ClientResource(resources.ModelResource):
    """Carteira import/export for one tenant (see core/importing.py for the row format)."""

    external_id = fields.Field(attribute="external_id", column_name="external_id")
    nome = fields.Field(attribute="name", column_name="nome")
    cpf = fields.Field(column_name="cpf")
    email = fields.Field(attribute="email", column_name="email")
    credor = fields.Field(attribute="creditor__name", column_name="credor")
    telefones = fields.Field(column_name="telefones")
    logradouro = fields.Field(attribute="street", column_name="logradouro")
    numero = fields.Field(attribute="number", column_name="numero")
    complemento = fields.Field(attribute="complement", column_name="complemento")
    bairro = fields.Field(attribute="district", column_name="bairro")
    cidade = fields.Field(attribute="city", column_name="cidade")
    uf = fields.Field(attribute="state", column_name="uf")
    cep = fields.Field(attribute="postal_code", column_name="cep")
    observacoes = fields.Field(attribute="notes", column_name="observacoes")
    situacao = fields.Field(attribute="get_status_display", column_name="situacao", readonly=True)
    saldo_em_aberto = fields.Field(attribute="open_balance", column_name="saldo_em_aberto", readonly=True)
    vencimento_mais_antigo = fields.Field(
        attribute="oldest_due_date", column_name="vencimento_mais_antigo", readonly=True
    )

    class Meta:
        model = Client
        fields = (
            "external_id",
            "nome",
            "cpf",
            "email",
            "credor",
            "telefones",
            "logradouro",
            "numero",
            "complemento",
            "bairro",
            "cidade",
            "uf",
            "cep",
            "observacoes",
            "situacao",
            "saldo_em_aberto",
            "vencimento_mais_antigo",
        )
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

    # Import -----------------------------------------------------------------
    def get_import_fields(self):
        return [fields.Field(column_name=name) for name in TEMPLATE_HEADERS]

    def before_import(self, dataset, **kwargs):
        if self.tenant is None:
            raise ValidationError(_("Importe como usuário de uma empresa: o superusuário não tem carteira própria."))

    def before_import_row(self, row, row_number=None, **kwargs):
        # Row 1 of the data is line 2 of the file (line 1 is the header).
        self._parsed[row_number] = self._parser.parse(dict(row), line=row_number + 1)

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
        return queryset.select_related("creditor").prefetch_related(
            Prefetch("phones", queryset=ClientPhone.objects.filter(active=True))
        )

    def dehydrate_cpf(self, client):
        return format_cpf(client.cpf)

    def dehydrate_telefones(self, client):
        return "; ".join(p.formatted for p in client.phones.all()) if client.pk else ""
