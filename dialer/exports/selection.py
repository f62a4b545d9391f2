"""What a queued export selects: the Carteira's choice replayed by the worker."""

from django.contrib.admin.options import IncorrectLookupParameters
from django.utils.translation import gettext as _

from dialer.errors import DialerError
from tenants.roles import is_back_office, user_tenant


def replay_selection(export):
    """The clients the user chose in the Carteira, as the Carteira computes them for that user now."""
    from core.admin import wallet_queryset

    user = export.requested_by
    if (
        user is None
        or not user.is_active
        or not is_back_office(user)
        or (not user.is_superuser and user_tenant(user) != export.tenant)
    ):
        raise DialerError(_("Quem pediu o envio não tem mais acesso a esta carteira: confirme o envio de novo."))
    try:
        queryset = wallet_queryset(user, export.selection.get("filtros", ""))
    except IncorrectLookupParameters:
        raise DialerError(_("Os filtros da Carteira deste envio não valem mais: confirme o envio de novo.")) from None
    if "ids" in export.selection:
        queryset = queryset.filter(pk__in=[int(i) for i in export.selection["ids"]])
    return queryset.filter(tenant=export.tenant)
