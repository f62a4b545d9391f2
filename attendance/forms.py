import datetime
import uuid
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from attendance.models import DispositionType
from attendance.negotiation import MAX_INSTALLMENTS, Proposal
from common.call_ids import call_id_or_blank
from common.money_fields import BRLDecimalField
from core.models import ClientPhone

# A sane window for dates people type: beyond it is a typo (9999) that would break every page showing it.
FIRST_DUE_WINDOW = datetime.timedelta(days=365)
MAX_AMOUNT = Decimal("999999999999.99")  # what a money column holds (14 digits)


class CallIdField(forms.CharField):
    """The hidden call id the page was opened with: one without a 3C Plus shape is no call (the views drop it
    the same way), not an error the operator could fix."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def clean(self, value):
        return call_id_or_blank(super().clean(value))


class TabulationForm(forms.Form):
    type = forms.ModelChoiceField(
        label=_("Tabulação"),
        queryset=DispositionType.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": _("Escolha uma tabulação.")},
    )
    notes = forms.CharField(label=_("Observações"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    phone = forms.ModelChoiceField(label=_("Telefone"), queryset=ClientPhone.objects.none(), required=False)
    callback_at = forms.DateTimeField(
        label=_("Retornar em"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
    )
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    call_id = CallIdField()

    def __init__(self, *args, tenant, client, phones=None, types=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].queryset = DispositionType.available_to(tenant).exclude(
            behavior=DispositionType.Behavior.NEGOTIATE
        )
        if types is not None:
            self.fields["type"].choices = [(t.pk, t.name) for t in types]
        self.fields["phone"].queryset = ClientPhone.objects.filter(client=client)
        if phones is not None:
            self.fields["phone"].choices = [("", "—")] + [(p.pk, p.formatted) for p in phones]
        if not self.is_bound:
            self.initial["token"] = uuid.uuid4()


class NegotiationForm(forms.Form):
    discount_percent = BRLDecimalField(
        label=_("Desconto (%)"), min_value=0, max_value=100, decimal_places=2, initial=0, localize=True
    )
    installments = forms.IntegerField(label=_("Parcelas"), min_value=1, max_value=MAX_INSTALLMENTS, initial=1)
    entry = BRLDecimalField(
        label=_("Entrada (R$)"),
        min_value=0,
        max_value=MAX_AMOUNT,
        max_digits=14,
        decimal_places=2,
        initial=0,
        localize=True,
    )
    first_due_date = forms.DateField(
        label=_("Primeiro vencimento"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
    )
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    call_id = CallIdField()
    notes = forms.CharField(label=_("Observações"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    justification = forms.CharField(
        label=_("Justificativa para o supervisor"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Obrigatória quando a proposta está fora das regras do credor."),
    )
    # Set by the 3x/6x/12x shortcuts: the entry rises to the creditor's minimum for the simulated total.
    fill_entry = forms.BooleanField(widget=forms.HiddenInput, required=False)
    # The shortcut the proposal came from (drawn as chosen); cleared when a field is changed by hand.
    preset = forms.CharField(widget=forms.HiddenInput, required=False, max_length=3)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["first_due_date"] = timezone.localdate() + datetime.timedelta(days=7)
            self.initial["token"] = uuid.uuid4()

    def clean_first_due_date(self):
        value = self.cleaned_data["first_due_date"]
        today = timezone.localdate()
        if value < today:
            raise forms.ValidationError(
                _("O primeiro vencimento (%(d)s) já passou: escolha hoje (%(today)s) ou uma data futura.")
                % {"d": value.strftime("%d/%m/%Y"), "today": today.strftime("%d/%m/%Y")}
            )
        if value > timezone.localdate() + FIRST_DUE_WINDOW:
            raise forms.ValidationError(
                _("O primeiro vencimento deve estar nos próximos %(days)s dias.") % {"days": FIRST_DUE_WINDOW.days}
            )
        return value

    def proposal(self) -> Proposal:
        data = self.cleaned_data
        return Proposal(
            discount_percent=data["discount_percent"],
            installments=data["installments"],
            entry=data["entry"] or 0,
            first_due_date=data["first_due_date"],
            fill_minimum_entry=data.get("fill_entry", False),
        )

    def with_simulated_entry(self, simulation) -> "NegotiationForm":
        """The form again, showing the entry the simulation used, so "Gerar acordo" proposes what was shown."""
        data = self.data.copy()
        data["entry"] = f"{simulation.entry:.2f}".replace(".", ",")
        # The entry is one of the preset's payments: the rest are the installments "Gerar acordo" proposes.
        data["installments"] = str(max(simulation.installments_count, 1))
        data["fill_entry"] = ""
        form = NegotiationForm(data)
        form.is_valid()
        return form
