"""The one error family of the payments provider: whatever it cannot do reaches callers as a ProviderError.

`message` is the text to show people (pt-BR); `status` and `detail` are what the PSP answered, for the logs.
"""


class ProviderError(Exception):
    def __init__(self, message: str, *, status: int | None = None, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail


class NotConfiguredError(ProviderError):
    """No provider, missing credentials, or a stored secret the current key cannot read."""


class AuthenticationError(ProviderError):
    """OAuth2 refused the client_id/secret (or the certificate), or the token has no scope for the call."""


class RefusedError(ProviderError):
    """4xx with an RFC 7807 problem: the PSP refused the data (`violacoes` lists why)."""

    def __init__(self, message: str, *, violations: list | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.violations = violations or []


class NotFoundError(RefusedError):
    pass


class MalformedResponseError(ProviderError):
    """An answer that is not the JSON the standard documents."""


class UnavailableError(ProviderError):
    """5xx, a timeout, a refused connection: waiting may fix it."""


class UnknownOutcomeError(UnavailableError):
    """A non-idempotent request reached the PSP but its answer was lost: not retried blindly."""


TRANSIENT = (UnavailableError,)
