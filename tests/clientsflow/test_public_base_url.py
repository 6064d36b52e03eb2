"""Links follow the address the app serves unless a public base URL is set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from clientsflow.management.commands.runembedded import served_base_url
from clientsflow.middleware import PublicBaseUrlMiddleware
from clientsflow.site import public_base_url, site_settings_update

pytestmark = pytest.mark.django_db


def test_runembedded_address_is_the_fallback(settings):
    settings.PUBLIC_BASE_URL = ""
    assert public_base_url() == "http://127.0.0.1:8000"
    settings.SERVED_BASE_URL = served_base_url("127.0.0.1:8123")
    assert public_base_url() == "http://127.0.0.1:8123"
    assert served_base_url("0.0.0.0:9000") == "http://127.0.0.1:9000"
    assert served_base_url("8001") == "http://127.0.0.1:8001"


def test_inside_a_request_links_follow_its_host_then_nothing_leaks(settings):
    settings.PUBLIC_BASE_URL = ""
    settings.SERVED_BASE_URL = "http://127.0.0.1:8000"
    settings.ALLOWED_HOSTS = ["crm.tunnel.example"]
    seen: list[str] = []

    def view(request):
        seen.append(public_base_url())
        return HttpResponse()

    request = RequestFactory().get("/board/", HTTP_HOST="crm.tunnel.example:8443", secure=True)
    settings.ALLOWED_HOSTS = ["crm.tunnel.example"]
    PublicBaseUrlMiddleware(view)(request)
    assert seen == ["https://crm.tunnel.example:8443"]
    assert public_base_url() == "http://127.0.0.1:8000"  # reset after the response


def test_a_set_url_wins_settings_row_first(settings):
    settings.PUBLIC_BASE_URL = "https://env.agency.example/"
    settings.SERVED_BASE_URL = "http://127.0.0.1:8000"
    assert public_base_url() == "https://env.agency.example"
    site_settings_update(public_base_url="https://crm.agency.example")
    assert public_base_url() == "https://crm.agency.example"


def test_an_email_sent_during_a_request_links_to_where_it_was_served(settings):
    from bookings.links import manage_url
    from tests.bookings.factories import BookingFactory

    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    booking = BookingFactory(start_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    seen: list[str] = []

    def view(request):
        seen.append(manage_url(booking))
        return HttpResponse()

    PublicBaseUrlMiddleware(view)(RequestFactory().get("/", HTTP_HOST="127.0.0.1:8765"))
    assert seen[0].startswith("http://127.0.0.1:8765/book/manage/")
