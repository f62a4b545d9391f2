"""The PIX section of the tenant's settings page: the receiver of the "copia e cola" codes, in fields of their own.

The keys and their rules are tenants.settings_schema's (clean_settings normalises the key to its DICT format
whichever way it was typed, here or in the JSON editor).
"""

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminTextInputWidget

from common import pix_fields
from tenants.settings_schema import PIX_CITY, PIX_KEY, PIX_NAME, SettingsSection


class PixTextField(forms.CharField):
    """A post without this input (a script, a page from before it existed) leaves the stored value alone."""

    def has_changed(self, initial, data):
        return data is not None and super().has_changed(initial, data)


class PixSection(SettingsSection):
    title = _("PIX")
    schema = {
        PIX_KEY: {"type": "string", "title": "Chave PIX"},
        PIX_NAME: {"type": "string", "title": "Nome do recebedor (PIX)"},
        PIX_CITY: {"type": "string", "title": "Cidade do recebedor (PIX)"},
    }

    def form_fields(self):
        return {
            PIX_KEY: PixTextField(
                label=_("Chave PIX"),
                required=False,
                max_length=200,
                widget=UnfoldAdminTextInputWidget,
                help_text=_(
                    "A chave que recebe os pagamentos das parcelas: CPF ou CNPJ (com ou sem pontos), telefone como "
                    "+55 11 98765-4321, e-mail ou chave aleatória. É guardada como o PIX a registra (só os números "
                    "do CPF, +55 e o número do telefone)."
                ),
            ),
            PIX_NAME: PixTextField(
                label=_("Nome do recebedor"),
                required=False,
                max_length=200,
                widget=UnfoldAdminTextInputWidget,
                help_text=_("Como o pagador vê no aplicativo do banco; até %(n)s letras sem acentos.")
                % {"n": pix_fields.NAME_MAX},
            ),
            PIX_CITY: PixTextField(
                label=_("Cidade do recebedor"),
                required=False,
                max_length=200,
                widget=UnfoldAdminTextInputWidget,
                help_text=_("Até %(n)s letras sem acentos.") % {"n": pix_fields.CITY_MAX},
            ),
        }
