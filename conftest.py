"""Test-wide setup: tasks run eagerly unless a test starts a real worker; a private cache prefix."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # A prefix of our own so tests never read or clear anything else in a shared Redis.
    settings.CACHES["default"]["KEY_PREFIX"] = f"cftest{os.getpid()}"

    # Owner notifications are off unless a test turns them on (the `owner_notifications` fixture):
    # tests that count the emails sent to a lead are not about the owner's copy.
    settings.NOTIFY_VIA = "none"

    # A fast hasher first: the production one (PBKDF2, a million rounds) costs a quarter of a CPU
    # second per account made or password checked, and no test here is about the hashing itself.
    # The default hashers stay listed after it, so a stored hash of theirs is still checked.
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *(h for h in settings.PASSWORD_HASHERS if h != "django.contrib.auth.hashers.MD5PasswordHasher"),
    ]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()

    from django.db.models.signals import post_migrate

    post_migrate.connect(_reseed_after_flush, dispatch_uid="tests.reseed_after_flush")

    # A transactional test's flush: DELETEs of the non-empty tables, and the rows post_migrate
    # makes kept when no test changed them (tests/flush.py).
    from tests.flush import install

    install()


def _reseed_after_flush(sender, **kwargs) -> None:
    """Put back the rows our data migrations made (the staff roles, the one Beat entry), and the
    board's counters true to the (now empty) leads table, after a
    transactional test's flush emptied every table. Django re-sends post_migrate after that flush,
    which is how content types and permissions come back; with two xdist workers, tests of other
    files can run after such a flush in the same process and need these rows too. (A flush that
    finds these rows as the last full one left them keeps them and sends no post_migrate.)"""
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group, Permission
    from django_celery_beat.models import PeriodicTask

    from leads.services.counters import lead_counts_rebuild
    from leads.staff_groups import staff_groups_sync

    if sender.label != list(apps.get_app_configs())[-1].label:
        return  # once per flush, after every app's permissions exist
    if not Group.objects.filter(name="Owner").exists():
        staff_groups_sync(group_model=Group, permission_model=Permission)
    dispatch_entry = importlib.import_module("clientsflow.migrations.0002_dispatch_periodic_task")
    if not PeriodicTask.objects.filter(name=dispatch_entry.TASK_NAME).exists():
        dispatch_entry.create(apps, None)
    # SQLite's flush deletes rows one table after another, so the lead triggers can decrement the
    # board's counters after the counters table was emptied, leaving negative rows behind.
    lead_counts_rebuild()


def services_available() -> tuple[bool, str]:
    from django.conf import settings

    if not settings.IS_POSTGRES:
        return False, "needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)"
    if not settings.REDIS_URL:
        return False, "needs Redis: set REDIS_URL=redis://... (CI does)"
    return True, ""


# The files with the longest tests under CI, longest first. They are run first: xdist's worksteal
# balances two workers by taking tests from the end of the other's queue, which cannot help when a
# minute-long test is the last one started. Each file keeps its own order (module fixtures).
SLOW_FILES_FIRST = (
    "tests/faults/test_soak.py",
    "tests/board/test_bench.py",
    "tests/faults/test_postgres_restart.py",
    "tests/faults/test_faults.py",
    "tests/browser/test_journey.py",
    "tests/clientsflow/test_backup.py",
    "tests/outreach/test_outbound_concurrency.py",
    "tests/clientsflow/test_real_worker.py",
    "tests/board/test_plans.py",
    "tests/board/test_demo_story.py",
)


def _slow_files_first(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _slow_files_first(items)
    available, reason = services_available()
    if available:
        return
    skip = pytest.mark.skip(reason=f"services-only test skipped: {reason}")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _eager_tasks_and_clean_cache():
    from celery import current_app
    from django.core.cache import cache

    current_app.conf.task_always_eager = True
    yield
    _clear_our_cache(cache)


def _clear_our_cache(cache) -> None:
    from django.conf import settings

    if settings.REDIS_URL:
        client = cache._cache.get_client(write=True)
        prefix = settings.CACHES["default"]["KEY_PREFIX"]
        for key in client.scan_iter(f"{prefix}:*", count=500):
            client.delete(key)
    else:
        cache.clear()


@pytest.fixture
def owner_notifications(settings):
    """Owner notifications on, by email to a known address (tests about notifications)."""
    from clientsflow.site import site_settings_update

    settings.OWNER_EMAIL = "owner@agency.example"
    site_settings_update(notify_via="email")
    return settings
