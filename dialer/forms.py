import uuid

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from dialer.models import QualifiedAction
from dialer.types import DispositionBehavior


def campaign_label(campaign: dict) -> str:
    """A 3C Plus campaign as a choice reads: its name, its id and whether it is paused."""
    label = f"{campaign['name']} (ID {campaign['id']})"
    return label + str(_(" — pausada")) if campaign.get("paused") else label


class SendToDialerForm(forms.Form):
    campaign = forms.TypedChoiceField(label=_("Campanha"), coerce=int, widget=UnfoldAdminSelectWidget)
    list_name = forms.CharField(label=_("Nome da lista"), max_length=200, widget=UnfoldAdminTextInputWidget)
    list_weight = forms.IntegerField(
        label=_("Peso da lista (opcional)"),
        required=False,
        min_value=1,
        max_value=100,
        widget=UnfoldAdminTextInputWidget,
        help_text=_("Definido no 3C Plus ao fim do envio; vazio mantém o padrão da campanha."),
    )

    # Made when the confirmation page is first shown; the same token submitted twice is one export.
    token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, campaigns=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["token"].initial = uuid.uuid4
        self.campaigns = {c["id"]: c for c in campaigns}
        self.fields["campaign"].choices = [(c["id"], campaign_label(c)) for c in campaigns]


class QualificationMappingForm(forms.Form):
    """Tabulação → qualificação: per list of qualifications, one choice for each behaviour, among that list's
    own qualifications (empty: not sent). Fields are named map-<list id>-<behaviour>."""

    prefix = "map"

    def __init__(self, *args, lists, **kwargs):
        """`lists`: {list id: the list's qualifications}."""
        super().__init__(*args, **kwargs)
        self.qualifications = {q.pk: q for choices in lists.values() for q in choices}
        for list_id, choices in lists.items():
            for behavior in DispositionBehavior:
                self.fields[f"{list_id}-{behavior.value}"] = forms.TypedChoiceField(
                    label=behavior.label,
                    choices=[("", _("— não enviar —")), *((q.pk, q.name) for q in choices)],
                    coerce=int,
                    empty_value=None,
                    required=False,
                )
        self.lists = list(lists)

    def mappings(self) -> dict:
        """{(list id, behaviour): the chosen qualification or None}, once the form is valid."""
        return {
            (list_id, behavior.value): self.qualifications.get(self.cleaned_data[f"{list_id}-{behavior.value}"])
            for list_id in self.lists
            for behavior in DispositionBehavior
        }


class QualificationActionsForm(forms.Form):
    """What each 3C Plus qualification does here when a call is qualified with it. Fields are named
    action-<qualification pk>."""

    prefix = "action"

    def __init__(self, *args, qualifications, **kwargs):
        super().__init__(*args, **kwargs)
        self.qualifications = {str(q.pk): q for q in qualifications}
        for pk, qualification in self.qualifications.items():
            self.fields[pk] = forms.ChoiceField(label=qualification.name, choices=QualifiedAction.choices)

    def actions(self) -> dict:
        """{Qualification: action}, once the form is valid."""
        return {q: self.cleaned_data[pk] for pk, q in self.qualifications.items()}
