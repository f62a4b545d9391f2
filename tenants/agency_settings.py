"""The agency's identity on the documents it hands to debtors (the termo de quitação): its legal name, CNPJ and
address, which CDC art. 42-A asks every collection document to carry beside the creditor's."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from unfold.widgets import UnfoldAdminTextInputWidget

from common.parsing import clean_text, parse_cnpj
from tenants.pix_settings import PixTextField
from tenants.settings_schema import SettingsSection

AGENCY_NAME = "assessoria_razao_social"
AGENCY_CNPJ = "assessoria_cnpj"
AGENCY_ADDRESS = "assessoria_endereco"
TEXT_MAX = 300


class AgencySection(SettingsSection):
    title = _lazy("Dados da assessoria (documentos)")
    schema = {
        AGENCY_NAME: {"type": "string", "title": "Razão social da assessoria"},
        AGENCY_CNPJ: {"type": "string", "title": "CNPJ da assessoria"},
        AGENCY_ADDRESS: {"type": "string", "title": "Endereço da assessoria"},
    }

    def clean(self, result, stored):
        errors = {}
        for key in (AGENCY_NAME, AGENCY_ADDRESS):
            if key in result:
                value = clean_text(result[key] if isinstance(result[key], str) else "").strip()
                if len(value) > TEXT_MAX:
                    errors[key] = _("Até %(n)s caracteres.") % {"n": TEXT_MAX}
                elif value:
                    result[key] = value
                else:
                    result.pop(key)
        if AGENCY_CNPJ in result:
            value = result[AGENCY_CNPJ]
            if value in (None, ""):
                result.pop(AGENCY_CNPJ)
            else:
                try:
                    result[AGENCY_CNPJ] = parse_cnpj(str(value)[:40])
                except ValidationError as error:
                    errors[AGENCY_CNPJ] = error.messages[0]
        return errors

    def form_fields(self):
        def text(label, help_text):
            return PixTextField(
                label=label, required=False, max_length=TEXT_MAX, widget=UnfoldAdminTextInputWidget, help_text=help_text
            )

        return {
            AGENCY_NAME: text(_lazy("Razão social"), _lazy("Como aparece no termo de quitação entregue ao devedor.")),
            AGENCY_CNPJ: text(_lazy("CNPJ"), _lazy("Com ou sem pontuação.")),
            AGENCY_ADDRESS: text(_lazy("Endereço"), _lazy("Logradouro, número, cidade e UF.")),
        }


def agency_identity(tenant) -> dict:
    """{name, cnpj, address} of the agency for its documents; the tenant's name when no legal name is set."""
    settings = tenant.settings or {}
    return {
        "name": settings.get(AGENCY_NAME) or tenant.name,
        "cnpj": settings.get(AGENCY_CNPJ, ""),
        "address": settings.get(AGENCY_ADDRESS, ""),
    }
