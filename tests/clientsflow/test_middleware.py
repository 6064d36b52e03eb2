from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from clientsflow.middleware import OwnerTimezoneMiddleware


def test_requests_render_times_in_the_owners_zone_and_restore_utc_after(settings):
    settings.OWNER_TIMEZONE = "Europe/London"
    seen: list[str] = []

    def view(request):
        seen.append(timezone.get_current_timezone_name())
        return HttpResponse()

    OwnerTimezoneMiddleware(view)(RequestFactory().get("/admin/"))

    assert seen == ["Europe/London"]
    assert timezone.get_current_timezone_name() == "UTC"
