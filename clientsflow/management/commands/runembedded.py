"""`manage.py runembedded`: the embedded default, one process for everything.

The web app (Django's server), tasks executed in-process, and the dispatcher ticking every minute
on a background thread, so periodic work happens without Redis, a worker or Beat.

Requests are served on a fixed pool of threads (`clientsflow.webserver`), each keeping its
database connection between requests.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from clientsflow.dispatcher import dispatch_tick, next_tick_delay
from clientsflow.webserver import PooledWSGIServer

logger = logging.getLogger(__name__)


def _dispatcher_loop(stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            close_old_connections()
            dispatch_tick()
        except Exception:
            logger.exception("dispatch.tick_failed")
        finally:
            close_old_connections()
        stop.wait(next_tick_delay(timezone.now()))


def runserver_command() -> BaseCommand:
    """The installed `runserver` (staticfiles' in development), serving with `PooledWSGIServer`."""
    command = load_command_class(get_commands()["runserver"], "runserver")
    command.server_cls = PooledWSGIServer  # type: ignore[attr-defined]
    return command


def served_base_url(addrport: str) -> str:
    """`127.0.0.1:8000`, `8001` or `0.0.0.0:9000` -> the http:// address links should use."""
    host, _, port = addrport.rpartition(":")
    host = host or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 (a comparison, not a bind)
        host = "127.0.0.1"  # listening on every interface: the loopback address works from here
    return f"http://{host}:{port or '8000'}"


class Command(BaseCommand):
    help = "Serve ClientsFlow with tasks and the dispatcher in this one process (make run)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options) -> None:
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError("runembedded runs tasks in-process; unset REDIS_URL or use a worker + beat instead.")
        settings.SERVED_BASE_URL = served_base_url(addrport)
        stop = threading.Event()
        threading.Thread(target=_dispatcher_loop, args=(stop,), name="dispatcher", daemon=True).start()
        time.sleep(0.1)
        try:
            # Without Django's thread per request: the pool is the server's own (see the module's note).
            call_command(runserver_command(), addrport, use_reloader=False, use_threading=False)
        finally:
            stop.set()
