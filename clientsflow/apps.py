from django.apps import AppConfig


class ClientsflowConfig(AppConfig):
    name = "clientsflow"
    verbose_name = "ClientsFlow"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from clientsflow.auth import audit_lockout

        user_locked_out.connect(audit_lockout, dispatch_uid="clientsflow.audit_lockout")
