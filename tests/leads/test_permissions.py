"""The owner's pages check the admin's model permissions, and the shipped roles exist.

Matrix: anonymous, staff with no permissions, and the "Viewer", "Assistant" and "Owner" groups
(as a migration creates them), on every owner page and action.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from bookings.models import Booking
from bookings.selectors import slots_for
from bookings.services import booking_create
from leads.models import Lead, PossibleDuplicate, Stage
from leads.services.intake import LeadData, lead_intake
from tests.bookings.factories import EventTypeFactory
from tests.leads.factories import role_group

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "no_perms", "Viewer", "Assistant", "Owner")
MAY_VIEW = {"Viewer", "Assistant", "Owner"}
MAY_CHANGE = {"Assistant", "Owner"}


def client_for(role: str) -> Client:
    client = Client()
    if role == "anonymous":
        return client
    user = get_user_model().objects.create_user(f"user-{role.lower()}", password="pw-for-tests-only", is_staff=True)
    if role != "no_perms":
        user.groups.add(role_group(role))
    client.force_login(user)
    return client


@pytest.fixture
def lead() -> Lead:
    return lead_intake(data=LeadData.build(name="Jane Doe", email="jane@acme.example"), source="website").lead


@pytest.fixture
def booking(django_capture_on_commit_callbacks) -> Booking:
    event_type = EventTypeFactory(slug="intro")
    with django_capture_on_commit_callbacks(execute=True):
        return booking_create(
            event_type=event_type,
            start=slots_for(event_type=event_type)[0].start,
            timezone_name="Europe/London",
            name="Ada Lovelace",
            email="ada@example.com",
        )


@pytest.fixture
def pair() -> PossibleDuplicate:
    lead_intake(data=LeadData.build(name="Jane", email="jane@acme.example", phone="+14155550134"), source="website")
    lead_intake(data=LeadData.build(name="Carol", email="carol@co.example", phone="415 555 0134"), source="website")
    return PossibleDuplicate.objects.get()


def expect(response, role: str, allowed: set[str], ok: int = 200) -> None:
    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    elif role in allowed:
        assert response.status_code == ok, response.content[:300]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_reading_the_board_and_lead_pages_needs_view_lead(role, lead):
    client = client_for(role)
    for url in ("/board/", "/board/column/new/", "/board/needs-you/", f"/board/lead/{lead.public_id}/"):
        expect(client.get(url), role, MAY_VIEW)


@pytest.mark.parametrize("role", ROLES)
def test_moving_a_card_needs_change_lead(role, lead):
    response = client_for(role).post(
        f"/board/lead/{lead.public_id}/move/", {"to_stage": "contacted", "expected_stage": "new", "next": "/board/"}
    )
    expect(response, role, MAY_CHANGE, ok=302)
    lead.refresh_from_db()
    assert lead.stage == (Stage.CONTACTED if role in MAY_CHANGE else Stage.NEW)


@pytest.mark.parametrize("role", ROLES)
def test_marking_all_seen_needs_change_lead(role, lead):
    response = client_for(role).post("/board/seen/", {"up_to": "2999-01-01T00:00:00+00:00", "next": "/board/"})
    expect(response, role, MAY_CHANGE, ok=302)
    lead.refresh_from_db()
    assert (lead.seen_at is not None) == (role in MAY_CHANGE)


@pytest.mark.parametrize("role", ROLES)
def test_cancelling_a_call_needs_change_booking(role, booking):
    client = client_for(role)
    expect(client.get(f"/book/staff/{booking.pk}/cancel/"), role, MAY_CHANGE)
    response = client.post(f"/book/staff/{booking.pk}/cancel/", {"reason": "Clash", "next": "/board/"})
    expect(response, role, MAY_CHANGE, ok=302)
    booking.refresh_from_db()
    assert booking.is_active == (role not in MAY_CHANGE)


@pytest.mark.parametrize("role", ["no_perms", "Viewer"])
def test_the_boards_script_gets_a_json_403_it_can_show(role, lead, booking):
    client = client_for(role)
    move = client.post(
        f"/board/lead/{lead.public_id}/move/",
        {"to_stage": "contacted", "expected_stage": "new"},
        headers={"Accept": "application/json"},
    )
    cancel = client.post(f"/book/staff/{booking.pk}/cancel/", {"reason": "x"}, headers={"Accept": "application/json"})
    for response in (move, cancel):
        assert response.status_code == 403
        assert "not allowed" in response.json()["error"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ["merge", "dismiss"])
def test_settling_a_possible_duplicate_needs_change_lead(role, action, pair):
    response = client_for(role).post(f"/board/lead/{pair.lead_a.public_id}/duplicates/{pair.pk}/{action}/")
    expect(response, role, MAY_CHANGE, ok=302)
    pair.refresh_from_db()
    settled = PossibleDuplicate.Status.MERGED if action == "merge" else PossibleDuplicate.Status.DISMISSED
    assert pair.status == (settled if role in MAY_CHANGE else PossibleDuplicate.Status.OPEN)


def test_a_viewer_sees_no_controls_and_their_visit_does_not_mark_the_lead_seen(lead, booking):
    viewer, assistant = client_for("Viewer"), client_for("Assistant")

    viewer_board = viewer.get("/board/").content.decode()
    assistant_board = assistant.get("/board/").content.decode()  # same filters, so the same cache slot

    for control in ("Move to…", "Mark all as seen", "Cancel call"):
        assert control not in viewer_board
        assert control in assistant_board
    page = viewer.get(f"/board/lead/{lead.public_id}/").content.decode()
    assert "Move to:" not in page and "Edit in admin" not in page
    lead.refresh_from_db()
    assert lead.seen_at is None


def test_the_lead_page_offers_merge_and_dismiss_for_a_possible_duplicate(pair):
    page = client_for("Assistant").get(f"/board/lead/{pair.lead_b.public_id}/").content.decode()
    assert "Possible duplicates" in page and "Merge into this lead" in page and "Not the same person" in page
    assert pair.lead_a.email in page

    viewer_page = client_for("Viewer").get(f"/board/lead/{pair.lead_b.public_id}/").content.decode()
    assert "Possible duplicates" in viewer_page and "Merge into this lead" not in viewer_page


def test_the_roles_exist_after_migrate_with_the_right_permissions():
    def codenames(name: str) -> set[str]:
        return set(role_group(name).permissions.values_list("codename", flat=True))

    owner, assistant, viewer = codenames("Owner"), codenames("Assistant"), codenames("Viewer")
    assert {"approve_outboundmessage", "view_lead", "change_booking", "change_user"} <= owner
    assert {
        "view_lead",
        "change_lead",
        "change_booking",
        "change_outboundmessage",
        "change_possibleduplicate",
    } <= assistant
    assert "approve_outboundmessage" not in assistant
    assert not {p for p in assistant if p.startswith(("add_", "delete_"))}
    assert not role_group("Assistant").permissions.filter(content_type__app_label="billing").exists()
    assert "change_user" not in assistant
    assert viewer and all(p.startswith("view_") for p in viewer)
    assert {"view_lead", "view_booking", "view_proposal"} <= viewer
