from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources

from attendance.models import Payment
from attendance.payment_import import TEMPLATE_HEADERS, PaymentRowParser, payment_id_of, storable, write_row


class PaymentResource(resources.ModelResource):
    """Payment file import for one tenant (see attendance/payment_import.py for the columns)."""

    class Meta:
        model = Payment
        fields = ()
        skip_unchanged = False
        report_skipped = True
        use_transactions = True  # the preview (dry run) writes each row for real, then rolls everything back

    def __init__(self, tenant=None, user=None, **kwargs):
        super().__init__(**kwargs)
        self.tenant = tenant
        self.user = user
        self._parser = PaymentRowParser(tenant) if tenant is not None else None
        self._parsed = {}

    def get_import_fields(self):
        return [fields.Field(column_name=name) for name in TEMPLATE_HEADERS]

    def get_user_visible_fields(self):
        return self.get_import_fields()

    def before_import(self, dataset, **kwargs):
        if self.tenant is None:
            raise ValidationError(_("Importe como usuário de uma empresa."))

    def get_instance(self, instance_loader, row):
        payment_id = payment_id_of(dict(row))
        if not payment_id or not storable(payment_id):
            return None
        return Payment.objects.filter(tenant=self.tenant, external_id=payment_id).first()

    def before_import_row(self, row, row_number=None, **kwargs):
        payment_id = payment_id_of(dict(row))
        already = Payment.objects.filter(tenant=self.tenant, external_id=payment_id)
        if payment_id and storable(payment_id) and payment_id not in self._parser.seen and already.exists():
            self._parser.seen[payment_id] = row_number + 1
            return  # imported by an earlier file: skip_row says so, nothing is parsed or written
        self._parsed[row_number] = self._parser.parse(dict(row), line=row_number + 1)

    def init_instance(self, row=None):
        return Payment(tenant=self.tenant)

    def import_instance(self, instance, row, **kwargs):
        parsed = self._parsed.get(kwargs["row_number"])
        if parsed is not None:
            instance.external_id = parsed.payment_id
            instance.amount = parsed.data.amount
            instance.paid_on = parsed.data.paid_on

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return instance.pk is not None

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        if import_validation_errors:
            raise ValidationError(import_validation_errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        payment, _created = write_row(self.tenant, self.user, self._parsed[kwargs["row_number"]])
        instance.pk = payment.pk
