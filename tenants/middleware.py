from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from tenants import two_factor
from tenants.roles import get_membership


class TenantMiddleware:
    """Puts the user's tenant and role on the request (None for superusers without membership)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = SimpleLazyObject(lambda: get_membership(request.user))
        request.tenant = SimpleLazyObject(lambda: getattr(get_membership(request.user), "tenant", None))
        return self.get_response(request)


class TwoFactorMiddleware:
    """After django-otp's OTPMiddleware: a signed-in session that still owes its second-factor code (or, where the
    tenant requires one, its enrolment) reaches only that page and the sign-out, whatever it asks for."""

    # Views that check it themselves: the console's call stream reads the session on a shared database thread
    # (attendance.views._stream_start); read here, in the request's thread, it would hold a pooled connection for
    # as long as the stream stays open, and a few consoles would exhaust the pool.
    CHECKED_BY_THE_VIEW = ("attendance:call_stream",)

    def __init__(self, get_response):
        self.get_response = get_response
        self.paths_checked_by_the_view = None

    def __call__(self, request):
        if self.paths_checked_by_the_view is None:
            self.paths_checked_by_the_view = frozenset(reverse(name) for name in self.CHECKED_BY_THE_VIEW)
        if request.path_info not in self.paths_checked_by_the_view and request.user.is_authenticated:
            step = two_factor.pending_step(request.user, request.session)
            if step is not None:
                page = reverse("two_factor_verify" if step == two_factor.VERIFY else "two_factor_setup")
                if request.path_info not in (page, reverse("logout")):
                    return redirect_to_login(request.get_full_path(), page)
        return self.get_response(request)
