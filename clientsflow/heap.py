"""A server process's heap, settled once its code is loaded (`heap_settle`).

Python's cycle collector runs its youngest generation every 700 new container objects and, now and
then, walks every object the process holds. A web process holds ~160,000 objects that live as long
as it does (Django, the apps, the URL configuration), and a lead delivered makes a few thousand
short-lived ones: so the collector ran several times per delivery and kept walking objects that
never become garbage. Once the code is loaded, `heap_settle` moves what is alive into the permanent
generation (`gc.freeze`), which the collector no longer walks, and lets the youngest generation
grow to `YOUNG_OBJECTS` before a collection. Garbage is still collected, only in fewer, larger
passes; a request makes far fewer objects than that, so memory barely changes.

Called where a serving process starts: `clientsflow.wsgi` (each gunicorn worker), `runembedded`
(`make run`), each Celery worker process, and `make bench` before its timed sections, so the
figures are those of a serving process.
"""

from __future__ import annotations

import gc

from django.urls import get_resolver

YOUNG_OBJECTS = 20_000
OLDER_PASSES = 20  # collections of a generation before the next one up is collected (default 10)


def heap_settle() -> None:
    """Load every view now (not on the first request), collect once, freeze what is alive."""
    get_resolver().url_patterns  # noqa: B018 (imports the URL configuration and every view)
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, OLDER_PASSES, OLDER_PASSES)
