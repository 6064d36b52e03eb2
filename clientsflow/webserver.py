"""The embedded default's web server: Django's development server on a fixed pool of threads.

Django's server starts a thread per request, and a thread's database connection ends with it: on
SQLite every request opened the file again, ran the connection's PRAGMAs and re-read the whole
schema on its first statement (about 8 ms of CPU, more than most requests' own work). On a pool,
each thread keeps its connection between requests for `CONN_MAX_AGE` seconds, as a WSGI server's
worker does. `manage.py runembedded` serves with it; `make bench` measures intake through it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.servers.basehttp import WSGIServer

# Requests served at once. A browser opens up to six connections to a host; the server answers
# each with "Connection: close" (Django's server keeps a connection alive only for a server that
# starts a thread per connection), so a thread is never held by an idle browser connection.
WEB_THREADS = 16


class PooledWSGIServer(WSGIServer):
    """Django's development WSGI server, serving each connection on a thread of a fixed pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = ThreadPoolExecutor(max_workers=WEB_THREADS, thread_name_prefix="web")

    def process_request(self, request: Any, client_address: Any) -> None:
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        # What socketserver.ThreadingMixIn does on its per-request thread.
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)
