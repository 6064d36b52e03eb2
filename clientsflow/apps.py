from django.apps import AppConfig


class ClientsflowConfig(AppConfig):
    name = "clientsflow"
    verbose_name = "ClientsFlow"
    default_auto_field = "django.db.models.BigAutoField"
