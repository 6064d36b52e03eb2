"""A serving process settles its heap once its code is loaded (clientsflow.heap)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from clientsflow.heap import OLDER_PASSES, YOUNG_OBJECTS

ROOT = Path(__file__).resolve().parents[2]

# Run in a process of its own: settling this test process would change how every later test's
# garbage is collected.
PROBE = """
import gc, sys, weakref
import clientsflow.wsgi  # what each gunicorn worker imports
print(gc.get_freeze_count(), *gc.get_threshold(), "leads.webhooks" in sys.modules)

class Node:
    pass

# Garbage made after settling is still collected: a cycle nothing refers to goes at the next pass.
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
gc.collect(0)
print(gone() is None)
"""


def test_the_wsgi_module_settles_each_worker_and_garbage_is_still_collected():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "clientsflow.settings"}
    env.pop("DATABASE_URL", None)  # importing the app needs no database
    env.pop("REDIS_URL", None)
    answer = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    settled, collected = answer.stdout.split("\n")[:2]
    frozen, young, middle, old, views_loaded = settled.split()
    assert int(frozen) > 10_000  # Django, the apps and every view, out of the collector's walks
    assert (int(young), int(middle), int(old)) == (YOUNG_OBJECTS, OLDER_PASSES, OLDER_PASSES)
    assert views_loaded == "True"  # the URL configuration was loaded at start, not on a first request
    assert collected == "True"
