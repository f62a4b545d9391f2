"""The one error family of messaging: whatever a channel cannot do reaches its callers as a MessagingError.

`message` is the text to show people (pt-BR); `code` is the provider's error code (Graph API `error.code`), for
the logs and for telling a closed window from a bad token.
"""


class MessagingError(Exception):
    def __init__(self, message: str, *, status: int | None = None, code: int | None = None, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail


class NotConfiguredError(MessagingError):
    """The tenant's channel settings are missing or unreadable (encryption key)."""


class AuthenticationError(MessagingError):
    """Graph API 190 (token expired or invalid), 10/200 (permission), 401/403."""


class WindowClosedError(MessagingError):
    """Graph API 131047: more than 24 hours since the debtor's last message; only a template may go."""


class TemplateError(MessagingError):
    """Graph API 132000-132016: the template does not exist, is not approved or its parameters do not match."""


class RecipientError(MessagingError):
    """Graph API 131026/133010/131021: the number cannot receive WhatsApp messages."""


class RateLimitedError(MessagingError):
    """Graph API 4, 80007, 130429, 131048, 131056, or HTTP 429."""


class InvalidRequestError(MessagingError):
    """Graph API 100, 131008, 131009, 131051 and other 4xx: the request itself is wrong."""


class UnavailableError(MessagingError):
    """5xx, a timeout, a refused connection, Graph API 1/2/131000/131016: try again later."""


class UnknownOutcomeError(UnavailableError):
    """The send reached Meta but its answer was lost: it may have gone; never retried blindly."""


class OptedOutError(MessagingError):
    """The debtor asked not to be contacted on this channel, or the client is "não ligar"."""


TRANSIENT = (UnavailableError, RateLimitedError)
