"""Pages every visitor meets whatever the app: the favicon, and the 404 in Portuguese while DEBUG is on."""

from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.defaults import page_not_found

# Django's DEBUG page for an unknown address (English, listing every URL pattern) starts with this title.
TECHNICAL_404_TITLE = b"<title>Page not found at "


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says (the sandbox's JSON, a file download): the icon."""
    return redirect(static("core/favicon.svg"))


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
