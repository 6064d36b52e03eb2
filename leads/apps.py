from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registration by import: webhook handlers (lead intake, inbound replies) and the send task.
        from leads import inbound, tasks_outbound, webhooks  # noqa: F401
