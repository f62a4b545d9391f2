from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _

from common.parsing import has_control_characters


class RefuseControlCharactersMiddleware:
    """A path or query string carrying a control character (NUL, escape, vertical tab…) is answered 400 before
    any view reads it: no browser sends one unless someone crafted the URL, PostgreSQL refuses NUL in text (a 500
    in every filter, search and lookup that passed it on) and XLSX refuses the others (an export that fails for
    good once one is stored)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.GET.lists()
        if has_control_characters(request.path_info) or any(
            has_control_characters(key) or any(map(has_control_characters, values)) for key, values in query
        ):
            return HttpResponseBadRequest(
                _("Endereço inválido: contém caracteres de controle."), content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)
