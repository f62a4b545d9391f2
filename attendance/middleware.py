from django.conf import settings
from django.http import HttpResponseForbidden
from django.urls import Resolver404, resolve, reverse
from django.utils.csp import CSP
from django.utils.translation import gettext as _


class AttendanceFramingMiddleware:
    """3C Plus may open our atendimento URL inside its agent screen: those pages (and the login they
    may need) can be framed by the configured origins only; every other page stays unframeable.

    Sits after XFrameOptionsMiddleware (and inside Django's ContentSecurityPolicyMiddleware) so it
    marks the response before those build their headers.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.frameable_prefixes = None  # the atendimento pages and the login, by name; reversed at the first request

    def __call__(self, request):
        response = self.get_response(request)
        origins = settings.ATTENDANCE_FRAME_ANCESTORS
        if origins and self.frameable_prefixes is None:
            self.frameable_prefixes = (reverse("attendance:home"), reverse("login"))
        if origins and request.path.startswith(self.frameable_prefixes):
            response.xframe_options_exempt = True
            response._csp_config = {**settings.SECURE_CSP, "frame-ancestors": [CSP.SELF, *origins]}
        return response


class CrossSiteRequestsMiddleware:
    """Framed atendimento pages need the session cookie sent cross-site (SameSite=None), so any site a signed-in
    user visits can make their browser send it to us, an <img> or a fetch() included, and a GET has effects (the
    access log, the console's presence). From another site, only a navigation (a link, the 3C Plus iframe) is
    served: a subresource or script request is no one opening the page (Fetch Metadata; a browser without it,
    or a server such as 3C Plus's, sends no Sec-Fetch-Site). Views that take requests from elsewhere
    (csrf_exempt: the webhook, which a relay in a browser may call) are left alone.
    """

    SAME_SITE = frozenset({"same-origin", "same-site", "none"})
    NOT_A_PAGE = frozenset({"object", "embed"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self.cross_site_subrequest(request) and not self.open_to_other_sites(request):
            return HttpResponseForbidden(_("Pedido feito por outro site: abra a página diretamente."))
        return self.get_response(request)

    def cross_site_subrequest(self, request) -> bool:
        site = request.headers.get("Sec-Fetch-Site")
        if site is None or site in self.SAME_SITE:
            return False
        navigation = (
            request.headers.get("Sec-Fetch-Mode") == "navigate"
            and request.method in ("GET", "HEAD")
            and request.headers.get("Sec-Fetch-Dest") not in self.NOT_A_PAGE
        )
        return not navigation

    @staticmethod
    def open_to_other_sites(request) -> bool:
        # Resolved only for the rare cross-site request: a view hook would cost every request a thread hop
        # under ASGI.
        try:
            return getattr(resolve(request.path_info, getattr(request, "urlconf", None)).func, "csrf_exempt", False)
        except Resolver404:
            return False
