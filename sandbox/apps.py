from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The fake 3C Plus of the demo and the tests: installed only when DIALER_SANDBOX is on (config/settings.py), so
    its state table never reaches a production schema."""

    name = "sandbox"
    verbose_name = "Sandbox 3C Plus"
