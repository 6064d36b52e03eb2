import os

from celery import Celery
from celery.signals import worker_process_init

from clientsflow.heap import heap_settle

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clientsflow.settings")

app = Celery("clientsflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _settle_heap(**kwargs: object) -> None:
    """Each worker process's long-lived objects out of the collector's way (`clientsflow.heap`)."""
    heap_settle()
