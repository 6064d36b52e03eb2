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


# --- suggestions scored by what identifies a person -------------------------------------------


def test_company_names_near_a_domain_no_longer_score_unrelated_leads():
    from calls.services.suggestions import call_suggestions

    for company in ("North Star", "Northwind Traders", "Studio North", "Wind & Co", "Northern Lights"):
        LeadFactory(company=company)
    call = CallFactory(
        participants=["owner@agency.example", "sam@northwind-studio.com"],
        attendees=[{"name": "Sam Okafor", "email": "sam@northwind-studio.com"}],
    )
    assert call_suggestions(call=call) == []


def test_email_domain_names_and_a_booking_near_the_call_score_with_reasons():
    from datetime import timedelta

    from calls.services.suggestions import call_suggestions
    from tests.bookings.factories import BookingFactory

    colleague = LeadFactory(name="Priya Shah", email="priya@acme.example", email_normalized="priya@acme.example")
    same_name = LeadFactory(name="Sam Okafor", email="sam.o@gmail.com", email_normalized="sam.o@gmail.com")
    booked = LeadFactory(name="Someone Else", email="else@other.example", email_normalized="else@other.example")
    LeadFactory(
        name="Gina Free", email="gina@gmail.com", email_normalized="gina@gmail.com"
    )  # free-mail: no domain point
    call = CallFactory(
        participants=["owner@agency.example", "sam@acme.example", "tom@gmail.com"],
        attendees=[{"name": "Sam Okafor", "email": "sam@acme.example"}],
    )
    BookingFactory(lead=booked, start_at=call.started_at + timedelta(minutes=10))

    by_lead = {s["lead_id"]: s for s in call_suggestions(call=call)}

    assert set(by_lead) == {colleague.pk, same_name.pk, booked.pk}
    assert by_lead[colleague.pk]["score"] == 50
    assert by_lead[colleague.pk]["reasons"] == ["An attendee writes from acme.example, the lead's company domain."]
    assert by_lead[same_name.pk]["score"] == 60
    assert by_lead[booked.pk]["score"] == 40
    assert "10 minutes from the call's start" in by_lead[booked.pk]["reasons"][0]


def test_change_page_lists_participants_and_reasons_not_json(admin_client):
    dana = LeadFactory(name="Dana Whitfield", email="dana@northwind.example", email_normalized="dana@northwind.example")
    call = call_match(
        call=CallFactory(
            participants=["owner@agency.example", "dana@northwind.example.org"],
            attendees=[{"name": "Dana Whitfield", "email": "dw@other.example"}],
        )
    )
    page = admin_client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert "<li>dana@northwind.example.org</li>" in page
    assert "<li>Dana Whitfield · dw@other.example</li>" in page
    assert "[&quot;owner@agency.example&quot;" not in page and '["owner@agency.example"' not in page
    assert "<li>Attendee “Dana Whitfield” has the lead&#x27;s name.</li>" in page
    assert f"{dana.pk}/" in page
    # The match chain reads as steps, and an unmatched call has no confidence to show.
    assert "<li>A participant&#x27;s email: no match" in page
    assert "&quot;step&quot;" not in page and '"step":' not in page
    assert "0.0" not in page


def test_create_a_new_lead_from_the_call(admin_client):
    from leads.models import Lead

    call = call_match(
        call=CallFactory(
            participants=["owner@agency.example", "new.person@fresh.example"],
            attendees=[{"name": "New Person", "email": "new.person@fresh.example"}],
        )
    )
    page = admin_client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert "Create a new lead from this call" in page and "new.person@fresh.example" in page
    url = reverse("admin:calls_call_new_lead", args=[call.pk])
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, follow=True)
    lead = Lead.objects.get(email_normalized="new.person@fresh.example")
    assert lead.name == "New Person" and lead.source == "call"
    call.refresh_from_db()
    assert call.lead == lead and call.match_method == "human"
    assert "Created the lead New Person from this call" in response.content.decode()
    # A second press changes nothing and says why.
    again = admin_client.post(url, follow=True).content.decode()
    assert "already matched to a lead" in again and Lead.objects.filter(name="New Person").count() == 1
