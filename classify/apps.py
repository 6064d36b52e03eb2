from django.apps import AppConfig


class ClassifyConfig(AppConfig):
    name = "classify"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Reply classification"

    def ready(self) -> None:
        from outreach.signals import reply_received

        reply_received.connect(_queue_classification, dispatch_uid="classify.queue_classification")


def _queue_classification(sender, reply_id: int, **kwargs) -> None:
    """Only enqueue: the signal is sent after the reply's transaction committed."""
    from classify.tasks import classify_reply

    classify_reply.delay_on_commit(reply_id)
