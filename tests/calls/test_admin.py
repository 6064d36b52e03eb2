"""The admin: unmatched list, suggestions with the one-click confirm, actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calls.models import Call
from calls.services.matching import call_match
from leads.models import Stage
from tests.calls.factories import CallFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, owner_user):
    client.force_login(owner_user)
    return client


def test_changelist_lists_unmatched_calls_without_loading_transcripts(admin_client):
    CallFactory(title="Mystery call", transcript_text="secret words " * 1000)
    response = admin_client.get("/admin/calls/call/?match_method__exact=unmatched")
    assert response.status_code == 200
    assert b"Mystery call" in response.content
    assert b"secret words" not in response.content


def test_change_page_shows_suggestions_and_one_click_confirm_links_the_lead(admin_client, vendors):
    dana = LeadFactory(name="Dana Whitfield", company="Northwind Studio", stage=Stage.BOOKED)
    call = call_match(call=CallFactory(attendees=[{"name": "Dana Whitfield", "email": "dw@other.example"}]))

    page = admin_client.get(reverse("admin:calls_call_change", args=[call.pk]))
    assert page.status_code == 200
    confirm_url = reverse("admin:calls_call_confirm", args=[call.pk, dana.pk])
    assert confirm_url.encode() in page.content
    assert b"This is the lead" in page.content

    assert admin_client.get(confirm_url).status_code == 405
    response = admin_client.post(confirm_url, follow=True)

    assert response.status_code == 200
    assert b"now on Dana Whitfield" in response.content
    call.refresh_from_db()
    assert (call.lead, call.match_method) == (dana, "human")
    dana.refresh_from_db()
    assert dana.stage == Stage.CALL_DONE


def test_confirm_needs_change_permission(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="pw-for-tests-only", is_staff=True)
    client.force_login(viewer)
    call = CallFactory()
    lead = LeadFactory()
    client.post(reverse("admin:calls_call_confirm", args=[call.pk, lead.pk]))
    assert Call.objects.get(pk=call.pk).lead is None


def test_sync_action_reports_failures_plainly(admin_client, vendors):
    import httpx

    from tests.calls.conftest import fixture_json

    vendors.notion_create.return_value = httpx.Response(400, json=fixture_json("notion_validation_error.json"))
    call = CallFactory()
    response = admin_client.post(
        "/admin/calls/call/", {"action": "sync_to_notion", "_selected_action": [call.pk]}, follow=True
    )
    assert b"1 failed: needs you" in response.content
    assert Call.objects.get(pk=call.pk).notion_status == "failed"


def test_links_are_rendered_only_for_https(admin_client):
    """Defence in depth: a non-https link stored before the client dropped them is not an href."""
    call = CallFactory(
        title="Old call",
        transcript_url="javascript:alert(document.cookie)",
        video_url="https://v.example/1.mp4",
    )
    response = admin_client.get(reverse("admin:calls_call_change", args=[call.pk]))
    assert response.status_code == 200
    assert b"javascript:" not in response.content
    assert b'href="https://v.example/1.mp4"' in response.content
