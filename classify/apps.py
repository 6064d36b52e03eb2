from django.apps import AppConfig


class ClassifyConfig(AppConfig):
    name = "classify"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Reply classification"
