"""The board's views: login, full page and HTMX partials, moves (JSON and no-JS), lead page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils.html import escape

from board.views import CSRF_PLACEHOLDER
from clientsflow.models import AuditEvent
from leads.models import Lead, LeadEvent, Stage, StageChange
from tests.board.test_board import make_board_leads
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"


@pytest.fixture
def owner():
    return staff_user("owner", email="owner@example.com", password=PASSWORD)


@pytest.fixture
def staff_client(client, owner):
    client.force_login(owner)
    return client


def _move(client, lead, to_stage, *, expected=None, reason="", json=True, next_url="/board/?q=Lead"):
    data = {"to_stage": to_stage, "expected_stage": expected or lead.stage, "reason": reason, "next": next_url}
    headers = {"Accept": "application/json"} if json else {}
    return client.post(f"/board/lead/{lead.public_id}/move/", data, headers=headers)


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/board/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/board/"


def test_logged_in_non_staff_cannot_see_the_board(client):
    user = get_user_model().objects.create_user("lead", "l@example.com", PASSWORD)
    client.force_login(user)
    assert client.get("/board/").status_code == 302


def test_root_redirects_to_the_board(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/board/"


def test_board_page_shows_columns_cards_links_and_one_shared_move_menu(staff_client):
    make_board_leads(8, stages=[Stage.NEW, Stage.BOOKED])
    lead = Lead.objects.filter(stage=Stage.NEW).first()
    html = staff_client.get("/board/").content.decode()
    for label in ("New", "Contacted", "Booked", "Proposal sent", "Paid", "Lost"):
        assert f">{label}</h2>" in html
    assert 'id="col-new"' in html and 'id="stage-bar"' in html
    assert f'href="/board/lead/{lead.public_id}/"' in html
    # One "Move to…" menu for the whole page (board.js fills it for a card), none per card; without
    # JavaScript the card's link opens the lead's page, where the stage can be changed.
    assert html.count('class="move-form"') == 1 and 'data-action="/board/lead/{id}/move/"' in html
    assert html.count('name="to_stage" value="contacted"') == 1
    assert f"/board/lead/{lead.public_id}/move/" not in html
    assert "<time datetime=" in html
    assert CSRF_PLACEHOLDER not in html
    assert re.search(r'name="csrfmiddlewaretoken" value="[A-Za-z0-9]{64}"', html)


def test_a_cached_board_still_gets_each_visitor_a_working_csrf_token(owner):
    make_board_leads(2, stages=[Stage.NEW])
    lead = Lead.objects.first()
    first = Client(enforce_csrf_checks=True)
    first.force_login(owner)
    first.get("/board/")  # fills the cache
    second = Client(enforce_csrf_checks=True)
    second.force_login(owner)
    html = second.get("/board/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = second.post(
        f"/board/lead/{lead.public_id}/move/",
        {"csrfmiddlewaretoken": token, "to_stage": "contacted", "expected_stage": "new", "next": "/board/"},
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED


def test_htmx_filter_requests_get_only_the_board_body(staff_client):
    make_board_leads(3)
    headers = {"HX-Request": "true", "HX-Target": "board-body"}
    partial = staff_client.get("/board/?q=Lead+1", headers=headers).content.decode()
    assert "<html" not in partial and 'id="columns"' in partial
    assert 'value="Lead 1"' in partial
    restored = staff_client.get("/board/?q=Lead+1", headers={**headers, "HX-History-Restore-Request": "true"})
    assert "<html" in restored.content.decode()
    assert "HX-Request" in restored["Vary"]


def test_move_by_json_saves_through_the_stage_service(staff_client, owner):
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    response = _move(staff_client, lead, "contacted")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["message"].startswith("Saved")
    assert 'data-stage="contacted"' in body["card"]
    change = StageChange.objects.get(lead=lead)
    assert (change.from_stage, change.to_stage, change.changed_by) == ("new", "contacted", owner)
    assert AuditEvent.objects.filter(verb="lead.stage_changed", object_id=str(lead.pk)).exists()
    lead.refresh_from_db()
    assert lead.seen_at is not None  # moving a card by hand means the owner saw it


def test_an_illegal_move_is_refused_with_a_clear_4xx(staff_client):
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    response = _move(staff_client, lead, "paid")
    assert response.status_code == 422
    assert "cannot move from New to Paid" in response.json()["error"]
    assert not StageChange.objects.exists()


def test_a_move_from_a_stale_stage_is_a_conflict(staff_client):
    (lead,) = make_board_leads(1, stages=[Stage.CONTACTED])
    response = _move(staff_client, lead, "booked", expected="new")
    assert response.status_code == 409
    assert "moved to Contacted in the meantime" in response.json()["error"]
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED


def test_lost_needs_a_reason(staff_client):
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    assert _move(staff_client, lead, "lost").status_code == 400
    assert _move(staff_client, lead, "lost", reason="Went with another agency").status_code == 200
    lead.refresh_from_db()
    assert lead.lost_reason == "Went with another agency"


def test_unknown_stage_and_unknown_lead(staff_client):
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    assert _move(staff_client, lead, "nowhere").status_code == 400
    ghost = Lead(public_id="00000000-0000-0000-0000-000000000000", stage="new")
    assert _move(staff_client, ghost, "contacted").status_code == 404


def test_move_without_javascript_redirects_back_with_a_message(staff_client):
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    response = _move(staff_client, lead, "contacted", json=False)
    assert response.status_code == 302
    assert response["Location"] == f"/board/?q=Lead#card-{lead.public_id}"
    page = staff_client.get(response["Location"].split("#")[0]).content.decode()
    assert "Saved: Lead 0 moved to Contacted." in page

    refused = _move(staff_client, lead, "paid", expected="contacted", json=False, next_url="https://evil.example/")
    assert refused["Location"] == "/board/"  # never off-site
    assert "Not moved: A lead cannot move from Contacted to Paid" in staff_client.get("/board/").content.decode()


def test_lead_page_shows_contact_history_and_timeline_and_marks_it_seen(staff_client):
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    Lead.objects.filter(pk=lead.pk).update(phone="+1 415 555 0134", phone_e164="+14155550134")
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.CREATED, summary="Arrived from the website form")
    _move(staff_client, lead, "contacted")
    Lead.objects.filter(pk=lead.pk).update(seen_at=None)
    html = staff_client.get(f"/board/lead/{lead.public_id}/").content.decode()
    assert "mailto:lead0@example.com" in html and "tel:+14155550134" in html
    assert "New → Contacted" in html
    assert "Arrived from the website form" in html and "Moved to Contacted" in html
    lead.refresh_from_db()
    assert lead.seen_at is not None
    assert staff_client.get("/board/lead/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_mark_all_seen(staff_client, django_capture_on_commit_callbacks):
    make_board_leads(3, stages=[Stage.NEW])
    html = staff_client.get("/board/").content.decode()
    up_to = re.search(r'name="up_to" value="([^"]+)"', html).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/board/seen/", {"up_to": up_to, "next": "/board/"})
    assert response.status_code == 302
    assert not Lead.objects.filter(seen_at__isnull=True).exists()
    assert "Marked 3 leads as seen." in staff_client.get("/board/").content.decode()


def test_load_more_as_htmx_partial_and_as_a_plain_page(staff_client):
    make_board_leads(30, stages=[Stage.NEW])
    html = staff_client.get("/board/").content.decode()
    link = re.search(r'href="(/board/column/new/\?after=[^"]+)"', html).group(1).replace("&amp;", "&")
    partial = staff_client.get(link, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and partial.count('<li class="card') == 10
    page = staff_client.get(link).content.decode()
    assert "<html" in page and "New: more leads" in page
    assert staff_client.get("/board/column/new/?after=garbage").status_code == 400
    assert staff_client.get("/board/column/nowhere/").status_code == 404


def test_needs_you_panel_loads_beside_the_board_and_works_without_javascript(staff_client):
    make_board_leads(2, stages=[Stage.NEW])
    board = staff_client.get("/board/").content.decode()
    assert 'hx-get="/board/needs-you/"' in board and 'href="/board/needs-you/"' in board
    partial = staff_client.get("/board/needs-you/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial
    assert '<span class="needs-count">2</span> New leads not yet seen' in partial
    assert "<html" in staff_client.get("/board/needs-you/").content.decode()


def test_the_card_returned_after_a_move_keeps_every_apps_badges(staff_client):
    from tests.outreach.outbound_support import make_draft

    lead = make_draft().lead
    assert lead.stage == Stage.NEW

    response = _move(staff_client, lead, "contacted")

    assert response.status_code == 200
    assert "Awaiting approval" in response.json()["card"]


@pytest.mark.parametrize("text", ["__clientsflow_csrf_token__", CSRF_PLACEHOLDER])
def test_lead_text_equal_to_the_csrf_placeholder_renders_as_itself(staff_client, text):
    """The cached board swaps its CSRF placeholder for the viewer's token: no lead's own text may
    ever be taken for it (and so show, or leak, the viewer's token on a card)."""
    make_board_leads(1, stages=[Stage.NEW])
    Lead.objects.update(name=text, company=text)

    html = staff_client.get("/board/").content.decode()
    card = re.search(r'<li class="card.*?</li>', html, flags=re.DOTALL).group(0)

    assert not re.search(r"[A-Za-z0-9]{64}", card.split("<details")[0])  # no token in the card's text
    assert f">{escape(text)}</a>" in card
    assert f'<div class="card-company">{escape(text)}</div>' in card


def test_a_column_counted_only_up_to_the_cap_says_so(staff_client, monkeypatch, settings):
    # PostgreSQL counts a column's search matches up to SEARCH_COUNT_CAP: beyond it the column
    # and its chip show "N+" with a title saying the count stopped there (and the page's script
    # leaves such a count alone). SQLite counts every match: no "+".
    from django.db import connection

    from leads import selectors
    from tests.leads.factories import LeadFactory

    monkeypatch.setattr(selectors, "SEARCH_COUNT_CAP", 2)
    for n in range(3):
        LeadFactory(name=f"Zed Capworth{n}", stage=Stage.NEW)
    LeadFactory(name="Zed Capworth9", stage=Stage.CONTACTED)
    html = staff_client.get("/board/?q=capworth").content.decode()
    heads = dict(re.findall(r'data-count-for="(\w+)"[^>]*>([^<]*)</span>', html))
    if connection.vendor == "postgresql":
        assert heads["new"] == "2+" and heads["contacted"] == "1"
        assert 'data-capped="1" title="More than 2 leads in New match: counted up to 2">2+<' in html
    else:
        assert heads["new"] == "3" and heads["contacted"] == "1"
        assert "data-capped" not in html
