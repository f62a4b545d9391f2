from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

UNFOLD = {
    "SITE_TITLE": _("Cobrança"),
    "SITE_HEADER": _("Cobrança"),
    "SITE_SUBHEADER": _("Back office integrado ao 3C Plus"),
    "SITE_URL": "/",
    "SITE_SYMBOL": "account_balance_wallet",
    "SITE_FAVICONS": [{"rel": "icon", "type": "image/svg+xml", "href": "/favicon.ico"}],
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "dashboard.views.dashboard_callback",
    "SIDEBAR": {"show_search": True, "show_all_applications": True},
    # The account menu: unfold shows these instead of its own "change password", so that one is listed too.
    "ACCOUNT": {
        "navigation": [
            {"title": _("Alterar senha"), "link": reverse_lazy("admin:password_change")},
            {"title": _("Segundo fator"), "link": reverse_lazy("two_factor_setup")},
        ]
    },
}
