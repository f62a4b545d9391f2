"""Pages every visitor meets whatever the app: the favicon, and the 404 in Portuguese while DEBUG is on."""

from django.http import HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django.views.defaults import page_not_found

# Django's DEBUG page for an unknown address (English, listing every URL pattern) starts with this title.
TECHNICAL_404_TITLE = b"<title>Page not found at "


# Served from here, not from the static files: the error pages link it, and they must render even where the
# static files' manifest is missing or broken.
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#7c3aed"/>'
    '<path d="M21.5 11.2A7 7 0 1 0 21.5 20.8" fill="none" stroke="#fff" stroke-width="3.2" stroke-linecap="round"/>'
    "</svg>"
)


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links (the sandbox's JSON, a file download): the icon."""
    return HttpResponse(FAVICON_SVG, content_type="image/svg+xml")


class NotFoundInPortugueseMiddleware:
    """With DEBUG on (the README's demo) Django answers an unknown address with its technical page, in English and
    listing the site's URLs: the newcomer gets the production 404 page, in Portuguese, instead (without DEBUG
    Django renders that page itself and this passes every response through)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 404 and not response.streaming and TECHNICAL_404_TITLE in response.content[:1000]:
            return page_not_found(request, exception=None)
        return response
