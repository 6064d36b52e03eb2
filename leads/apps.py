from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registration by import: the lead-intake webhook handler.
        from leads import webhooks  # noqa: F401
