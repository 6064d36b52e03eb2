from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "outreach"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Outreach"

    def ready(self) -> None:
        # Registration by import: the inbound-reply webhook handler.
        from outreach import webhooks  # noqa: F401
