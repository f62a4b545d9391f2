from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project package is an app only so that its management commands (the demo, which seeds data of every
    app) are found; it has no models."""

    name = "config"
