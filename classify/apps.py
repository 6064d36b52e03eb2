from django.apps import AppConfig


class ClassifyConfig(AppConfig):
    name = "classify"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Reply classification"

    def ready(self) -> None:
        from outreach.signals import reply_applied, reply_received

        reply_received.connect(_queue_classification, dispatch_uid="classify.queue_classification")
        reply_applied.connect(_queue_policy_after_apply, dispatch_uid="classify.policy_after_apply")


def _queue_classification(sender, reply_id: int, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Only enqueue: the signal is sent after the reply's transaction committed."""
    from classify.tasks import classify_reply

    classify_reply.delay_on_commit(reply_id)


def _queue_policy_after_apply(sender, reply_id: int, actor_label: str = "", **kwargs) -> None:  # type: ignore[no-untyped-def]
    """A held reply was applied by a person (signal sent after commit): act on its label."""
    from classify.tasks import classify_policy_after_apply

    classify_policy_after_apply.delay(reply_id, actor_label)
