"""What "Enviar" confirmed in the Carteira selects, stored on the export and replayed by the worker: the wallet's
filter (core.wallet_filter), the dialer's own box ("enviado ao discador"), and the rows picked one by one."""

import dataclasses

from django.http import QueryDict
from django.utils.translation import gettext as _

from core.wallet_filter import InvalidWalletFilter, WalletFilter
from dialer import selectors
from dialer.errors import DialerError
from tenants.roles import is_back_office, user_tenant


@dataclasses.dataclass(frozen=True)
class CarteiraSelection:
    wallet: WalletFilter
    sent_to_dialer: str = ""  # selectors.sent_to_dialer_q's value
    ids: tuple[int, ...] | None = None  # the rows ticked one by one; None for "select all"

    @classmethod
    def from_query(cls, query: "QueryDict | str", ids=None) -> "CarteiraSelection":
        """The Carteira's query string (its filters and search), and the ticked rows if not "select all"."""
        query = QueryDict(query, mutable=True) if isinstance(query, str) else query.copy()
        sent = query.pop(selectors.SENT_TO_DIALER, [""])[-1]
        return cls(WalletFilter.from_query(query), sent, None if ids is None else tuple(int(i) for i in ids))

    @classmethod
    def from_json(cls, data: dict) -> "CarteiraSelection":
        """What an export stores: {"filtros": the query string} and, for rows ticked one by one, {"ids": [...]}."""
        return cls.from_query(data.get("filtros", ""), data.get("ids"))

    def to_json(self) -> dict:
        query = QueryDict(self.wallet.to_query(), mutable=True)
        if self.sent_to_dialer:
            query[selectors.SENT_TO_DIALER] = self.sent_to_dialer
        data = {"filtros": query.urlencode()}
        if self.ids is not None:
            data["ids"] = list(self.ids)
        return data

    def select(self, tenant):
        """The tenant's clients selected. Raises InvalidWalletFilter when the filters no longer apply."""
        queryset = self.wallet.select(tenant).filter(selectors.sent_to_dialer_q(self.sent_to_dialer))
        if self.ids is not None:
            queryset = queryset.filter(pk__in=self.ids)
        return queryset


def replay_selection(export):
    """The clients the user chose in the Carteira, selected now, if that user may still see the tenant's wallet."""
    user = export.requested_by
    if (
        user is None
        or not user.is_active
        or not is_back_office(user)
        or (not user.is_superuser and user_tenant(user) != export.tenant)
    ):
        raise DialerError(_("Quem pediu o envio não tem mais acesso a esta carteira: confirme o envio de novo."))
    try:
        return CarteiraSelection.from_json(export.selection).select(export.tenant)
    except InvalidWalletFilter:
        raise DialerError(_("Os filtros da Carteira deste envio não valem mais: confirme o envio de novo.")) from None
