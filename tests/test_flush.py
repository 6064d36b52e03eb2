"""The suite's own flush (tests/flush.py): keeping the rows post_migrate makes, when nothing
changed them, leaves exactly what Django's full flush and post_migrate leave."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django_celery_beat.models import PeriodicTask

from clientsflow.models import WebhookEvent
from tests.flush import EMPTY, FLUSH, table_fingerprints, tables
from tests.leads.factories import LeadFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="the kept flush is PostgreSQL's; SQLite flushes in full"),
]


def flush() -> None:
    """The flush a transactional test ends with (django.test.TransactionTestCase)."""
    call_command("flush", verbosity=0, interactive=False, reset_sequences=False, inhibit_post_migrate=False)


def every_table() -> dict[str, str]:
    return table_fingerprints(connection, tables(connection), fingerprinted=None)


def full_flush() -> dict[str, str]:
    """Django's flush and post_migrate, whatever was kept before; every table's fingerprint after."""
    FLUSH.fingerprints.pop(connection.alias, None)
    full_before = FLUSH.full_flushes
    flush()
    assert FLUSH.full_flushes == full_before + 1
    return every_table()


def write_what_tests_write() -> None:
    owner = get_user_model().objects.create_user("someone", is_staff=True)
    owner.groups.add(Group.objects.get(name="Owner"))
    owner.user_permissions.add(Permission.objects.get(codename="approve_outboundmessage"))
    LeadFactory.create_batch(3)  # and the board's counters, through the triggers
    WebhookEvent.objects.create(provider="leads", event_id="evt-1", headers={}, body="{}")


def test_a_kept_flush_leaves_every_table_as_the_full_flush_did():
    after_full = full_flush()
    seeded = {table for table, fingerprint in after_full.items() if fingerprint != EMPTY}
    assert {"django_content_type", "auth_permission", "auth_group", "django_celery_beat_periodictask"} <= seeded

    write_what_tests_write()
    assert every_table() != after_full
    kept_before, full_before = FLUSH.kept_flushes, FLUSH.full_flushes
    flush()

    assert (FLUSH.kept_flushes, FLUSH.full_flushes) == (kept_before + 1, full_before)
    assert every_table() == after_full  # row for row, ids included
    # And post_migrate would have had nothing to add.
    emit_post_migrate_signal(0, False, connection.alias)
    assert every_table() == after_full


@pytest.mark.parametrize(
    "change",
    ["a group added", "a permission deleted", "the dispatch entry disabled", "a content type renamed"],
)
def test_a_changed_seed_row_makes_the_flush_a_full_one(change):
    after_full = full_flush()
    if change == "a group added":
        Group.objects.create(name="Made by a test")
    elif change == "a permission deleted":
        Permission.objects.filter(codename="approve_outboundmessage").delete()
    elif change == "the dispatch entry disabled":
        PeriodicTask.objects.filter(name="dispatch").update(enabled=False)
    else:
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.filter(app_label="leads", model="lead").update(model="renamed")
    LeadFactory()
    full_before = FLUSH.full_flushes
    flush()

    assert FLUSH.full_flushes == full_before + 1
    assert not Group.objects.filter(name="Made by a test").exists()
    assert Permission.objects.filter(codename="approve_outboundmessage").count() == 1
    assert PeriodicTask.objects.get(name="dispatch").enabled
    assert Group.objects.get(name="Owner").permissions.count() == Permission.objects.count()
    now = every_table()
    assert {t for t, f in now.items() if f != EMPTY} == {t for t, f in after_full.items() if f != EMPTY}
    # The next flush after a full one keeps again.
    kept_before = FLUSH.kept_flushes
    flush()
    assert FLUSH.kept_flushes == kept_before + 1
    assert every_table() == now
