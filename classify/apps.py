from django.apps import AppConfig

from outreach.signals import reply_received


class ClassifyConfig(AppConfig):
    name = "classify"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Reply classification"

    def ready(self) -> None:
        # Imported in ready(): the tasks import models, which Django loads after this module.
        from classify.tasks import queue_classification

        reply_received.connect(queue_classification, dispatch_uid="classify.queue_classification")
