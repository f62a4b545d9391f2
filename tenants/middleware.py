from django.utils.functional import SimpleLazyObject

from tenants.roles import get_membership


class TenantMiddleware:
    """Puts the user's tenant and role on the request (None for superusers without membership)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = SimpleLazyObject(lambda: get_membership(request.user))
        request.tenant = SimpleLazyObject(lambda: getattr(get_membership(request.user), "tenant", None))
        return self.get_response(request)
