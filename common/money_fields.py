"""Form fields for money as people in Brazil type it (1.234,56): the admin gives every decimal model field these,
and the atendimento's forms use them for their amounts."""

from django import forms
from unfold.widgets import UnfoldAdminTextInputWidget

from common.parsing import parse_decimal_text


class MoneyInput(UnfoldAdminTextInputWidget):
    """A text box for decimals: a number input cannot show 1553,60 and would come back empty."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})


class BRLDecimalField(forms.DecimalField):
    """A decimal typed the Brazilian way or not: 1.234,56, 1234,56, 1234.56 and 1,234.56; shown as 1234,56."""

    def __init__(self, *args, **kwargs):
        kwargs["localize"] = True
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            try:
                return parse_decimal_text(value)
            except (ValueError, ArithmeticError):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        return super().to_python(value)
