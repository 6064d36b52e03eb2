from django.apps import AppConfig
from django.db.backends.signals import connection_created

from clientsflow.sqlite_keeper import keep_sqlite_file_open


class ClientsflowConfig(AppConfig):
    name = "clientsflow"
    verbose_name = "ClientsFlow"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from clientsflow.auth import audit_lockout

        user_locked_out.connect(audit_lockout, dispatch_uid="clientsflow.audit_lockout")
        connection_created.connect(keep_sqlite_file_open, dispatch_uid="clientsflow.keep_sqlite_file_open")
