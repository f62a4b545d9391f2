"""The one error family of the dialer: whatever the dialer cannot do reaches its callers as a DialerError.

`message` is always the text to show people (pt-BR); `status` and `detail` are what 3C Plus answered, for
the logs. Callers catch DialerError; the subclasses let the dialer itself tell a pause from a failure.
"""


class DialerError(Exception):
    """A dialer operation that could not be done; `message` says why, in Portuguese."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail


class NotConfiguredError(DialerError):
    """The tenant's 3C Plus settings are missing, unreadable (encryption key) or point outside 3C Plus."""


class AuthenticationError(DialerError):
    """401/403, or an agent-token problem (agent_required, agent_not_allowed)."""


class ValidationError(DialerError):
    """422: 3C Plus refused the data; `errors` is its {field: [messages]}."""

    def __init__(self, message: str, *, errors: dict | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.errors = errors or {}


class NotFoundError(DialerError):
    pass


class UnexpectedResponseError(DialerError):
    """A status 3C Plus does not document for the call; the message quotes its detail."""


class MalformedResponseError(UnexpectedResponseError):
    """An answer whose shape is not what 3C Plus documents (a list where an object goes, text for `data`, a report
    that is not an object...); `excerpt` is the start of what came, credentials hidden, for an admin to see."""

    def __init__(self, message: str, *, excerpt: str = "", **kwargs):
        super().__init__(message, **kwargs)
        self.excerpt = excerpt


class RateLimitedError(DialerError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UnavailableError(DialerError):
    """5xx, a timeout, a name that does not resolve, a refused connection."""


class UnknownOutcomeError(UnavailableError):
    """A POST reached 3C Plus but its answer did not come back (read timeout, dropped connection, 5xx):
    it may or may not have been applied, so it is not retried blindly; the caller decides."""


class WebhookError(DialerError):
    """A webhook body that is not JSON, or a call report without a call id."""


# Waiting fixes these (the export pauses, the removal is retried); anything else needs someone to act.
TRANSIENT = (UnavailableError, RateLimitedError)
