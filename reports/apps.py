from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Read-only reports over every other app's data; nothing imports this app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = "Reports"
