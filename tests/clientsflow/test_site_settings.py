import json
from datetime import time
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError
from django.test import override_settings

from clientsflow.models import AuditEvent, SiteSettings
from clientsflow.site import (
    SITE_SETTINGS_CACHE_KEY,
    site_settings,
    site_settings_memo_close,
    site_settings_memo_open,
    site_settings_update,
)

pytestmark = pytest.mark.django_db


@override_settings(AGENCY_NAME="Acme Ltd", OWNER_NAME="Sam Lee", DEFAULT_CURRENCY="EUR")
def test_first_read_creates_the_row_from_the_environment():
    row = site_settings()
    assert (row.agency_name, row.owner_name, row.default_currency) == ("Acme Ltd", "Sam Lee", "EUR")
    assert "Sam Lee" in row.signature and "owner" not in row.signature.lower()
    assert SiteSettings.objects.count() == 1


def test_an_update_is_seen_by_the_next_read_not_a_stale_cached_copy(django_capture_on_commit_callbacks):
    site_settings()
    with django_capture_on_commit_callbacks(execute=True):
        site_settings_update(agency_name="Renamed Co")
    assert site_settings().agency_name == "Renamed Co"


def test_there_is_only_ever_one_row():
    site_settings()
    with pytest.raises(IntegrityError):
        SiteSettings.objects.create(id=2, agency_name="x", owner_name="y")


def test_probabilities_fall_back_to_defaults_and_are_clamped():
    row = site_settings()
    row.stage_probabilities = {"booked": 150}
    assert row.stage_probability("booked") == 100
    assert row.stage_probability("signed") == 90
    assert row.stage_probability("lost") == 0


def test_notify_via_none_switches_every_kind_off():
    row = site_settings()
    row.notify_via = SiteSettings.NotifyVia.EMAIL  # the suite starts with notifications off
    assert row.notification_on("payment_received")
    row.notify_via = SiteSettings.NotifyVia.NONE
    assert not row.notification_on("payment_received")


def test_admin_list_opens_the_one_form_and_saving_refreshes_the_cache(client, django_capture_on_commit_callbacks):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-long-enough-1")
    client.force_login(admin)
    response = client.get("/admin/clientsflow/sitesettings/")
    assert response.status_code == 302 and response["Location"].endswith("/admin/clientsflow/sitesettings/1/change/")
    form = client.get(response["Location"])
    assert form.status_code == 200 and b"Your agency" in form.content
    assert client.get("/admin/clientsflow/sitesettings/add/").status_code == 403
    assert site_settings().agency_name != "Brightline Studio"  # cached now

    row = site_settings()
    data = {
        name: getattr(row, name)
        for name in (
            *("agency_name", "owner_name", "brand_colour", "public_base_url", "sender_name", "signature"),
            *("booking_headline", "host_name", "notify_via", "default_currency", "going_cold_days"),
        )
    }
    data |= {
        name: f"{getattr(row, name):%H:%M}" for name in ("working_hours_start", "working_hours_end", "digest_time")
    }
    for name in ("notifications", "stage_probabilities"):  # as the form posts them, with their hidden initial
        data[name] = data[f"initial-{name}"] = json.dumps(getattr(row, name))
    data |= {"agency_name": "Brightline Studio", "send_window_start": "08:00", "send_window_end": "18:30"}
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post("/admin/clientsflow/sitesettings/1/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    fresh = site_settings()
    assert fresh.agency_name == "Brightline Studio" and (fresh.send_window_start, fresh.send_window_end) == (
        time(8, 0),
        time(18, 30),
    )
    audit = AuditEvent.objects.get(verb="settings.changed")
    assert audit.actor_user == admin
    assert audit.details["fields"] == ["agency_name", "send_window_end", "send_window_start"]


def test_a_request_reads_the_shared_copy_once_and_sees_its_own_change(django_capture_on_commit_callbacks):
    site_settings()  # the row exists and is in the shared cache
    token = site_settings_memo_open()
    try:
        with mock.patch.object(cache, "get", wraps=cache.get) as cache_get:
            names = {site_settings().agency_name for _ in range(8)}
            reads = [c for c in cache_get.call_args_list if c.args[:1] == (SITE_SETTINGS_CACHE_KEY,)]
            assert len(reads) == 1 and len(names) == 1
            with django_capture_on_commit_callbacks(execute=True):
                site_settings_update(agency_name="Changed Mid-Request")
            assert site_settings().agency_name == "Changed Mid-Request"
    finally:
        site_settings_memo_close(token)
    # Outside a request nothing is kept: another process's change reaches the next read.
    SiteSettings.objects.filter(pk=1).update(agency_name="Changed Elsewhere")
    cache.delete(SITE_SETTINGS_CACHE_KEY)
    assert site_settings().agency_name == "Changed Elsewhere"
