from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Sales calls"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls import webhooks  # noqa: F401  (registers the fireflies and meet webhook handlers)
