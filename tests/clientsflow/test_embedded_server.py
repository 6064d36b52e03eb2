"""The embedded server answers on a fixed pool of threads, each keeping its database connection."""

from __future__ import annotations

import socketserver
import threading
import urllib.request

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.db.backends.signals import connection_created

from clientsflow.management.commands.runembedded import runserver_command
from clientsflow.webserver import WEB_THREADS, PooledWSGIServer

REQUESTS = 12


def _connections_opened(server_cls: type[WSGIServer]) -> tuple[list[int], list[tuple[int, str | None]]]:
    """Serve REQUESTS sequential health checks: the threads that opened a database connection, and
    each answer's status and Connection header."""
    opened: list[int] = []

    def count(sender, connection, **kwargs):
        opened.append(threading.get_ident())

    connection_created.connect(count, weak=False)
    server = server_cls(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(WSGIHandler())
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    statuses = []
    try:
        for _ in range(REQUESTS):
            with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/healthz/", timeout=10) as answer:
                statuses.append((answer.status, answer.headers["Connection"]))
    finally:
        server.shutdown()
        server.server_close()
        connection_created.disconnect(count)
    return opened, statuses


@pytest.mark.django_db(transaction=True)
def test_the_pool_keeps_each_threads_connection_between_requests(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    opened, statuses = _connections_opened(PooledWSGIServer)
    assert statuses == [(200, "close")] * REQUESTS  # no idle browser connection holds a thread
    assert 1 <= len(opened) <= WEB_THREADS
    assert len(opened) < REQUESTS / 2  # sequential requests reuse an idle thread and its connection


@pytest.mark.django_db(transaction=True)
def test_djangos_thread_per_request_opens_a_connection_each_time(settings):
    """What the pool replaces: Django's threaded server, a new thread and connection per request."""
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    threaded = type("WSGIServer", (socketserver.ThreadingMixIn, WSGIServer), {"daemon_threads": True})
    opened, statuses = _connections_opened(threaded)
    assert [status for status, _header in statuses] == [200] * REQUESTS
    assert len(opened) == REQUESTS


def test_runembedded_serves_with_the_pool():
    command = runserver_command()
    assert command.server_cls is PooledWSGIServer
    assert command.__module__.startswith("django.contrib.staticfiles")  # static files still served in DEBUG
