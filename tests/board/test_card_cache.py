"""The board's card cache: after every kind of write the board shows the truth, a move re-renders
one card (not the columns' forty), and what a viewer may do is never served from another's cache."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.selectors import slots_for
from bookings.services import booking_create
from clientsflow.cache import board_stage_versions, board_version
from clientsflow.site import site_settings
from leads.models import PIPELINE_ORDER, Lead, Stage
from leads.selectors import CARDS_PER_COLUMN
from leads.services.intake import LeadData, lead_intake
from leads.services.merge import lead_merge
from leads.services.owner_edits import lead_value_set
from leads.services.stages import lead_move_stage
from leads.services.tasks import task_add, task_complete
from tests.board.test_board import BOARD_STAGES, make_board_leads
from tests.bookings.factories import EventTypeFactory
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client):
    client.force_login(staff_user("owner", email="owner@example.com"))
    return client


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    """Run each write's after-commit work (the cache version bumps) as a real commit would."""

    def run(write):
        with django_capture_on_commit_callbacks(execute=True):
            return write()

    return run


def _board(client, path: str = "/board/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def _column(html: str, stage: str) -> str:
    """The HTML of one column's card list."""
    match = re.search(rf'<ol class="cards" data-stage="{stage}".*?</ol>', html, flags=re.DOTALL)
    assert match, f"no {stage} column on the board"
    return match.group(0)


def _card(html: str, lead: Lead) -> str:
    match = re.search(
        rf'<li class="card[^"]*" id="card-{lead.public_id}".*?</li>(?=<li class="card|\s*</ol|\s*<li class="load)',
        html,
        flags=re.DOTALL,
    )
    assert match, f"{lead} has no card on the board"
    return match.group(0)


def test_a_move_shows_the_card_in_its_new_column_only(owner_client, commits):
    lead, other = make_board_leads(2, stages=[Stage.NEW])
    before = _board(owner_client)
    assert f"card-{lead.public_id}" in _column(before, "new")

    commits(lambda: lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, actor_label="test"))
    after = _board(owner_client)

    assert f"card-{lead.public_id}" not in _column(after, "new")
    assert f'id="card-{lead.public_id}" data-stage="contacted"' in _column(after, "contacted")
    assert f"card-{other.public_id}" in _column(after, "new")


def test_a_value_edit_shows_on_the_card(owner_client, commits):
    (lead,) = make_board_leads(1, stages=[Stage.REPLIED])
    assert "card-value" not in _card(_board(owner_client), lead)

    commits(lambda: lead_value_set(lead=lead, amount_minor=450000, currency="USD", by_staff=True))

    assert '<b class="card-value" data-currency="USD">$4,500</b>' in _card(_board(owner_client), lead)


def test_task_badges_follow_a_task_added_and_done(owner_client, commits):
    (lead,) = make_board_leads(1, stages=[Stage.CONTACTED])
    assert "Task overdue" not in _card(_board(owner_client), lead)

    task = commits(lambda: task_add(lead=lead, title="Call back", due_at=timezone.now() - timedelta(hours=1)))
    assert "Task overdue" in _card(_board(owner_client), lead)

    commits(lambda: task_complete(task=task))
    assert "Task overdue" not in _card(_board(owner_client), lead)


def test_going_cold_clears_when_the_lead_moves_and_returns_when_it_moves_back(owner_client, commits):
    """The card's key holds when its stage last changed: a lead moved away and back within the
    cache's lifetime is not shown with the badge its earlier, identical-looking card had."""
    (lead,) = make_board_leads(1, stages=[Stage.CONTACTED])
    long_ago = timezone.now() - timedelta(days=site_settings().going_cold_days + 5)
    Lead.objects.filter(pk=lead.pk).update(created_at=long_ago)
    lead.refresh_from_db()
    assert "Going cold" in _card(_board(owner_client), lead)

    commits(lambda: lead_move_stage(lead=lead, to_stage=Stage.REPLIED, actor_label="test"))
    assert "Going cold" not in _card(_board(owner_client), lead)
    commits(lambda: lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, actor_label="test"))
    assert "Going cold" not in _card(_board(owner_client), lead)


def test_another_apps_badge_shows_on_a_cached_card(owner_client, commits):
    from tests.outreach.outbound_support import make_draft

    make_board_leads(3, stages=[Stage.NEW], prefix="cached")
    _board(owner_client)  # every card cached
    lead = commits(lambda: make_draft().lead)

    assert "Awaiting approval" in _card(_board(owner_client), lead)


def test_a_new_lead_from_intake_appears_and_the_others_stay(owner_client, commits):
    older = make_board_leads(3, stages=[Stage.NEW])
    _board(owner_client)

    result = commits(
        lambda: lead_intake(data=LeadData.build(name="Nora Newcomer", email="nora@example.com"), source="website")
    )
    new_column = _column(_board(owner_client), "new")

    assert f"card-{result.lead.public_id}" in new_column and "Nora Newcomer" in new_column
    assert all(f"card-{lead.public_id}" in new_column for lead in older)


def test_a_merge_removes_the_duplicate_and_gives_the_survivor_its_task_badge(owner_client, commits):
    survivor, duplicate = make_board_leads(2, stages=[Stage.CONTACTED])
    commits(lambda: task_add(lead=duplicate, title="Send the deck", due_at=timezone.now() - timedelta(hours=2)))
    html = _board(owner_client)
    assert "Task overdue" in _card(html, duplicate) and "Task overdue" not in _card(html, survivor)

    commits(lambda: lead_merge(survivor=survivor, duplicate=duplicate))
    html = _board(owner_client)

    assert f"card-{duplicate.public_id}" not in html
    assert "Task overdue" in _card(html, survivor)


def test_a_viewer_never_gets_the_owners_cached_cancel_action(client, commits):
    """Card actions depend on permissions: the card cache is keyed by them, so a viewer rendered
    after the owner (same cards, same versions) does not see the owner's "Cancel call"."""
    event_type = EventTypeFactory(slug="intro-call", host__name="Olivia Owner")
    booking = commits(
        lambda: booking_create(
            event_type=event_type,
            start=slots_for(event_type=event_type)[0].start,
            timezone_name="Europe/London",
            name="Maya Chen",
            email="maya@brightline.example",
        )
    )
    lead = booking.lead
    client.force_login(staff_user("owner", email="owner@example.com"))
    assert "Cancel call" in _card(_board(client), lead)

    client.force_login(staff_user("viewer", role="Viewer"))
    viewer_card = _card(_board(client), lead)
    assert "Maya Chen" in viewer_card and "Cancel call" not in viewer_card

    client.force_login(get_owner := staff_user("owner2", email="o2@example.com"))
    assert get_owner.has_perm("bookings.change_booking")
    assert "Cancel call" in _card(_board(client), lead)


def test_filters_share_cached_cards_and_show_only_matching_leads(owner_client, commits):
    make_board_leads(6, stages=[Stage.NEW])
    (zed,) = make_board_leads(1, stages=[Stage.NEW], prefix="zed")
    _board(owner_client)

    searched = _board(owner_client, "/board/?q=zed")
    assert f"card-{zed.public_id}" in searched
    assert searched.count('<li class="card') == 1
    by_source = _board(owner_client, f"/board/?source={zed.source}")
    assert all('data-stage="new"' in card for card in re.findall(r'<li class="card[^>]*>', by_source))
    assert by_source.count('<li class="card') == Lead.objects.filter(source=zed.source).count()


def _queries_after_a_move(client, commits, lead: Lead, to_stage: str) -> list[str]:
    # Everything cached now, so nothing cached earlier (while thousands of leads were being made
    # on a slow machine) runs out of its time to live between this render and the next.
    cache.clear()
    _board(client)
    commits(lambda: lead_move_stage(lead=lead, to_stage=to_stage, actor_label="test"))
    with CaptureQueriesContext(connection) as ctx:
        _board(client)
    return [query["sql"] for query in ctx.captured_queries]


def test_a_render_after_a_move_reads_the_same_few_queries_whatever_the_number_of_leads(owner_client, commits):
    site_settings()
    # More leads per column than a column shows, at both sizes: a move brings a card into view.
    make_board_leads(CARDS_PER_COLUMN * len(BOARD_STAGES) + len(BOARD_STAGES), prefix="small")
    mover = Lead.objects.filter(stage=Stage.NEW).order_by("-created_at", "-id").first()
    few = _queries_after_a_move(owner_client, commits, mover, Stage.CONTACTED)

    make_board_leads(3000, prefix="big")
    mover, *_, came_into_view = Lead.objects.filter(stage=Stage.NEW).order_by("-created_at", "-id")[
        : CARDS_PER_COLUMN + 1
    ]
    many = _queries_after_a_move(owner_client, commits, mover, Stage.CONTACTED)

    assert len(few) == len(many)
    # One card query for the two columns, and each app's badges asked only about the cards not
    # cached: the moved one, and the one that comes into view at the foot of the column it left.
    card_reads = [sql for sql in many if re.search(r'(?:"lead_id"|"leads_lead"\."id") IN \(\d', sql)]
    assert len(card_reads) >= 6
    for sql in card_reads:
        for group in re.findall(r'(?:"lead_id"|"leads_lead"\."id") IN \((\d[^)]*)\)', sql):
            ids = {int(pk) for pk in group.split(",")}
            assert len(ids) <= 2 and ids <= {mover.pk, came_into_view.pk}, sql


def test_a_badge_on_one_card_reads_and_renders_that_card_only(owner_client, commits):
    """Another app's change on one lead (here a task) bumps that lead's version, not the board's:
    the next render asks each app about that lead only and re-renders its card alone, while the
    other cards keep theirs and every column still shows the truth."""
    leads = make_board_leads(CARDS_PER_COLUMN, stages=[Stage.NEW, Stage.CONTACTED])
    lead, other = leads[0], leads[1]
    cache.clear()
    before = _board(owner_client)
    assert "Task overdue" not in _card(before, lead)

    commits(lambda: task_add(lead=lead, title="Call back", due_at=timezone.now() - timedelta(hours=1)))
    with CaptureQueriesContext(connection) as ctx:
        after = _board(owner_client)

    assert "Task overdue" in _card(after, lead)
    assert _card(after, other) == _card(before, other)
    card_reads = [
        q["sql"] for q in ctx.captured_queries if re.search(r'(?:"lead_id"|"leads_lead"\."id") IN \(\d', q["sql"])
    ]
    assert card_reads, "the changed card's badges were not read"
    for sql in card_reads:
        for group in re.findall(r'(?:"lead_id"|"leads_lead"\."id") IN \((\d[^)]*)\)', sql):
            assert {int(pk) for pk in group.split(",")} == {lead.pk}, sql


def _needs_you_unseen(client) -> str:
    html = client.get("/board/needs-you/").content.decode()
    match = re.search(r'<span class="needs-count"[^>]*>([^<]+)</span> New leads not yet seen', html)
    return match.group(1) if match else "0"


def test_an_arrival_tells_no_cache_and_shows_at_once_on_the_board_its_column_and_needs_you(owner_client, commits):
    older = make_board_leads(2, stages=[Stage.NEW])
    _board(owner_client)
    owner_client.get("/board/column/new/")
    unseen_before = _needs_you_unseen(owner_client)
    versions = board_stage_versions(PIPELINE_ORDER), board_version()

    result = commits(lambda: lead_intake(data=LeadData.build(name="Ona Arrival", email="ona@example.com"), source="x"))

    # Nothing was written to the cache: the column's stamp moved in the lead's own INSERT.
    assert (board_stage_versions(PIPELINE_ORDER), board_version()) == versions
    assert f"card-{result.lead.public_id}" in _column(_board(owner_client), "new")
    assert "Ona Arrival" in owner_client.get("/board/column/new/").content.decode()
    assert int(_needs_you_unseen(owner_client)) == int(unseen_before) + 1
    assert all(f"card-{lead.public_id}" in _column(_board(owner_client), "new") for lead in older)


def test_a_column_changed_outside_any_service_shows_at_the_next_render_even_with_the_same_count(owner_client):
    gone, kept = make_board_leads(2, stages=[Stage.NEW])
    _board(owner_client)

    # No service, no bump, no change in the count: a delete and an insert in the same column.
    Lead.objects.filter(pk=gone.pk).delete()
    came = Lead.objects.create(name="Cal Came", email="cal@example.com", email_normalized="cal@example.com")

    column = _column(_board(owner_client), "new")
    assert f"card-{came.public_id}" in column and f"card-{kept.public_id}" in column
    assert f"card-{gone.public_id}" not in column


def test_a_repeat_bumps_its_column_only_when_it_changed_what_a_card_shows(owner_client, commits):
    first = commits(lambda: lead_intake(data=LeadData.build(name="Rae Repeat", email="rae@example.com"), source="x"))
    _board(owner_client)
    versions = board_stage_versions(PIPELINE_ORDER)

    # Its payload id is new (stored, shown on no card): nothing to re-render.
    commits(lambda: lead_intake(data=LeadData.build(email="RAE@example.com", external_id="e-2"), source="x"))
    assert board_stage_versions(PIPELINE_ORDER) == versions

    # It fills the company, which the card shows: the column is re-rendered with it.
    commits(lambda: lead_intake(data=LeadData.build(email="rae@example.com", company="Rae Works"), source="x"))
    assert board_stage_versions(PIPELINE_ORDER)["new"] > versions["new"]
    assert "Rae Works" in _card(_board(owner_client), first.lead)
