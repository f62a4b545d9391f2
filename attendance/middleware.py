from django.conf import settings
from django.utils.csp import CSP

FRAMEABLE_PREFIXES = ("/atendimento/", "/entrar/")


class AttendanceFramingMiddleware:
    """3C Plus may open our atendimento URL inside its agent screen: those pages (and the login they
    may need) can be framed by the configured origins only; every other page stays unframeable.

    Sits after XFrameOptionsMiddleware (and inside Django's ContentSecurityPolicyMiddleware) so it
    marks the response before those build their headers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        origins = settings.ATTENDANCE_FRAME_ANCESTORS
        if origins and request.path.startswith(FRAMEABLE_PREFIXES):
            response.xframe_options_exempt = True
            response._csp_config = {**settings.SECURE_CSP, "frame-ancestors": [CSP.SELF, *origins]}
        return response
