from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """The bench* management commands (`manage.py bench` and the steps it runs), above every app; no models."""

    name = "benchmarks"
