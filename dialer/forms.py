import uuid

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget


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
        self.fields["campaign"].choices = [
            (c["id"], f"{c['name']} (ID {c['id']})" + (_(" — pausada") if c.get("paused") else "")) for c in campaigns
        ]
