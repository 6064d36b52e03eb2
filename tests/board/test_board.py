"""The board's reads: constant query count, database paging, filters, cache, times, timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from board import selectors
from board.selectors import board_column_page, board_columns, lead_timeline, needs_you
from board.templatetags.board import relative_time, reltime
from classify.models import Classification
from clientsflow.cache import board_stage_versions, board_version, board_version_bump
from clientsflow.site import site_settings
from leads.models import PIPELINE_ORDER, Lead, LeadEvent, Stage
from leads.selectors import CARDS_PER_COLUMN, BoardFilters, board_summary, decode_cursor
from leads.services.seen import leads_mark_seen
from leads.services.stages import lead_move_stage
from outreach.models import InboundReply
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

BOARD_STAGES = [Stage.NEW, Stage.CONTACTED, Stage.REPLIED, Stage.BOOKED, Stage.PROPOSAL_SENT, Stage.LOST]


def make_board_leads(n: int, *, stages: list[str] | None = None, prefix: str = "lead", **fields) -> list[Lead]:
    """`n` leads spread over `stages`, made in bulk (as the bench does)."""
    stages = stages or BOARD_STAGES
    leads = [
        Lead(
            name=f"{prefix.title()} {i}",
            email=f"{prefix}{i}@example.com",
            email_normalized=f"{prefix}{i}@example.com",
            company=f"Company {i % 17}",
            source=("website", "ghl", "referral")[i % 3],
            stage=stages[i % len(stages)],
            **fields,
        )
        for i in range(n)
    ]
    return Lead.objects.bulk_create(leads, batch_size=1000)


@pytest.fixture
def staff_client(client):
    user = staff_user("owner", email="owner@example.com")
    client.force_login(user)
    return client


def _invalidate(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        board_version_bump()


def _queries_of_board_render(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/board/")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_board_render_query_count_is_constant_in_the_number_of_leads(staff_client, django_capture_on_commit_callbacks):
    site_settings()  # the settings row is created (and cached) on its first read, once per install
    make_board_leads(50, prefix="small")
    _invalidate(django_capture_on_commit_callbacks)
    with_50 = _queries_of_board_render(staff_client)

    make_board_leads(4950, prefix="big")
    assert Lead.objects.count() == 5000
    _invalidate(django_capture_on_commit_callbacks)
    with_5000 = _queries_of_board_render(staff_client)

    assert with_50 == with_5000
    # Cold, every column rebuilt: counters, recency, cards, each app's badges and actions for them,
    # next steps, value totals and this month's revenue. A new per-card read must not add to this.
    assert with_5000 <= 16


def test_a_cached_board_render_reads_leads_only_for_the_recency_bar(staff_client, django_capture_on_commit_callbacks):
    make_board_leads(30)
    _invalidate(django_capture_on_commit_callbacks)
    _queries_of_board_render(staff_client)
    with CaptureQueriesContext(connection) as ctx:
        staff_client.get("/board/")
    lead_queries = [q["sql"] for q in ctx.captured_queries if '"leads_lead"' in q["sql"]]
    # No card query: every column came from the cache. The one read of leads is the recency bar's
    # count over the last week (an index-only range scan, see tests/board/test_plans.py).
    assert len(lead_queries) == 1
    assert '"leads_lead"."created_at" >=' in lead_queries[0] and "COUNT" in lead_queries[0].upper()


def test_columns_follow_the_pipeline_with_database_counts_and_newest_cards_first():
    leads = make_board_leads(60, stages=[Stage.NEW, Stage.BOOKED])
    newest_new = max((lead for lead in leads if lead.stage == Stage.NEW), key=lambda lead: (lead.created_at, lead.pk))
    columns = board_columns(BoardFilters())
    assert [column.stage for column in columns] == PIPELINE_ORDER
    by_stage = {column.stage: column for column in columns}
    assert by_stage["new"].count == 30 and by_stage["booked"].count == 30 and by_stage["paid"].count == 0
    assert len(by_stage["new"].cards) == CARDS_PER_COLUMN
    assert by_stage["new"].cards[0].lead.pk == newest_new.pk
    assert by_stage["new"].next_cursor and not by_stage["paid"].next_cursor


def test_merged_leads_are_not_on_the_board():
    survivor, duplicate = make_board_leads(2, stages=[Stage.NEW])
    Lead.objects.filter(pk=duplicate.pk).update(merged_into=survivor)
    assert board_summary(BoardFilters()).counts["new"] == 1


def test_load_more_pages_a_column_in_the_database_without_gaps_or_repeats():
    make_board_leads(45, stages=[Stage.NEW])
    first = board_columns(BoardFilters())[0]
    seen = [card.lead.pk for card in first.cards]
    cursor = first.next_cursor
    query_counts = []
    while cursor:
        with CaptureQueriesContext(connection) as ctx:
            cards, cursor = board_column_page(BoardFilters(), stage="new", after=decode_cursor(cursor))
        # The page's own read (a badge provider may also read leads by id, e.g. "going cold").
        lead_queries = [
            q["sql"] for q in ctx.captured_queries if 'FROM "leads_lead"' in q["sql"] and "ORDER BY" in q["sql"]
        ]
        assert len(lead_queries) == 1 and "LIMIT 21" in lead_queries[0].upper()
        query_counts.append(len(ctx.captured_queries))  # + one per badge provider, whatever the page
        seen.extend(card.lead.pk for card in cards)
    assert len(query_counts) == 2 and query_counts[0] == query_counts[1]
    assert len(seen) == 45 == len(set(seen))
    expected = list(Lead.objects.filter(stage="new").order_by("-created_at", "-id").values_list("pk", flat=True))
    assert seen == expected


def test_a_tampered_cursor_is_refused():
    assert decode_cursor("not-a-cursor") is None
    assert decode_cursor("") is None


def test_filters_search_name_email_and_company_source_stage_and_unseen():
    make_board_leads(12)
    Lead.objects.create(name="Zed Quinn", email="zq@example.com", email_normalized="zq@example.com", source="ghl")
    Lead.objects.create(name="Ann", email="ann@acme.test", email_normalized="ann@acme.test", company="Zedcorp")
    total = sum(board_summary(BoardFilters(q="zed")).counts.values())
    assert total == 2
    assert sum(board_summary(BoardFilters(q="acme.test")).counts.values()) == 1
    assert sum(board_summary(BoardFilters(source="ghl")).counts.values()) == 4 + 1
    only_booked = board_columns(BoardFilters(stage="booked"))
    assert [column.stage for column in only_booked] == ["booked"]
    assert all(card.lead.stage == "booked" for card in only_booked[0].cards)
    Lead.objects.filter(name="Ann").update(seen_at=timezone.now())
    assert sum(board_summary(BoardFilters(unseen=True)).counts.values()) == 13


def test_recency_counts_and_since_filter():
    now = timezone.now()
    leads = make_board_leads(4, stages=[Stage.NEW])
    for lead, age in zip(
        leads, (timedelta(minutes=5), timedelta(hours=3), timedelta(days=3), timedelta(days=30)), strict=True
    ):
        Lead.objects.filter(pk=lead.pk).update(created_at=now - age)
    Lead.objects.filter(pk=leads[3].pk).update(seen_at=now)
    counts = board_summary(BoardFilters(), now=now).recency
    assert (counts.last_hour, counts.last_day, counts.last_week, counts.unseen) == (1, 2, 3, 3)
    assert board_summary(BoardFilters(since="24h"), now=now).counts["new"] == 2


def test_mark_all_seen_spares_leads_that_arrived_after_the_page_was_drawn():
    drawn_at = timezone.now()
    old, late = make_board_leads(2, stages=[Stage.NEW])
    Lead.objects.filter(pk=old.pk).update(created_at=drawn_at - timedelta(minutes=2))
    Lead.objects.filter(pk=late.pk).update(created_at=drawn_at + timedelta(seconds=30))
    assert leads_mark_seen(up_to=drawn_at, actor=None) == 1
    old.refresh_from_db()
    late.refresh_from_db()
    assert old.seen_at is not None and late.seen_at is None


def test_a_move_bumps_the_versions_of_its_two_columns_after_commit(django_capture_on_commit_callbacks):
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    before, global_before = board_stage_versions(PIPELINE_ORDER), board_version()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, actor_label="test")
    assert board_stage_versions(PIPELINE_ORDER) == before  # nothing until the commit
    for callback in callbacks:
        callback()
    after = board_stage_versions(PIPELINE_ORDER)
    changed = {stage for stage in PIPELINE_ORDER if after[stage] != before[stage]}
    assert changed == {"new", "contacted"}
    assert after["new"] == before["new"] + 1 and board_version() == global_before


def test_relative_times_read_at_a_glance():
    now = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    assert relative_time(now - timedelta(seconds=20), now) == "just now"
    assert relative_time(now - timedelta(minutes=7), now) == "7 min ago"
    assert relative_time(now - timedelta(hours=3), now) == "3 h ago"
    assert relative_time(now - timedelta(hours=30), now) == "yesterday"
    assert relative_time(now - timedelta(days=4), now) == "4 days ago"
    assert relative_time(now - timedelta(days=40), now) == "15 Oct"


def test_time_element_carries_the_instant_and_the_exact_owner_zone_time(settings):
    settings.OWNER_TIMEZONE = "America/New_York"
    html = reltime(datetime(2026, 11, 24, 14, 5, tzinfo=UTC))
    assert 'datetime="2026-11-24T14:05:00Z"' in html
    assert 'title="Tue 24 Nov 2026, 09:05 EST"' in html


def test_timeline_merges_events_stage_changes_and_other_apps_entries_newest_first():
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.CREATED, summary="Arrived from the website form")
    lead_move_stage(lead=lead, to_stage=Stage.CONTACTED, actor_label="owner")
    reply = InboundReply.objects.create(
        lead=lead, source="manual", from_email=lead.email, from_email_normalized=lead.email, received_at=timezone.now()
    )
    classified = Classification.objects.create(reply=reply, label="positive", confidence=0.9, backend="local")
    Classification.objects.filter(pk=classified.pk).update(created_at=timezone.now() + timedelta(days=1))

    entries = lead_timeline(lead)

    assert [entry.title for entry in entries] == ["Reply classified positive", "Moved to Contacted", "Created"]
    assert entries[1].actor == "owner" and "From New" in entries[1].detail


def test_card_badges_and_actions_ask_each_app_once_per_page(monkeypatch):
    leads = make_board_leads(3, stages=[Stage.BOOKED])
    calls: dict[str, list[list[int]]] = {"badges": [], "actions": []}
    real_badges, real_actions = selectors.booking_badges, selectors.booking_card_actions

    def badges(ids):
        calls["badges"].append(list(ids))
        return real_badges(ids)

    def actions(ids):
        calls["actions"].append(list(ids))
        return real_actions(ids)

    monkeypatch.setattr(selectors, "booking_badges", badges)
    monkeypatch.setattr(selectors, "booking_card_actions", actions)

    cards = board_columns(BoardFilters(stage="booked"))[0].cards

    expected = sorted(lead.pk for lead in leads)
    assert [sorted(ids) for ids in calls["badges"]] == [expected]
    assert [sorted(ids) for ids in calls["actions"]] == [expected]
    assert sorted(card.lead.pk for card in cards) == expected


def test_needs_you_counts_new_leads_not_yet_seen():
    make_board_leads(3, stages=[Stage.NEW])
    Lead.objects.filter(pk=Lead.objects.first().pk).update(seen_at=timezone.now())
    item = next(item for item in needs_you() if item.key == "new_leads_unseen")
    assert item.count == 2
    assert item.url.startswith("/admin/leads/lead/?seen_at__isnull=True")


def test_needs_you_shows_a_count_beyond_its_cap_as_more_than(monkeypatch, staff_client):
    monkeypatch.setattr(selectors, "NEEDS_YOU_CAP", 2)
    old = timezone.now() - timedelta(days=site_settings().going_cold_days + 5)
    leads = make_board_leads(3, stages=[Stage.CONTACTED])
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(created_at=old, stage_changed_at=old)
    item = next(item for item in needs_you() if item.key == "going_cold")
    assert (item.count, item.more, item.shown) == (2, True, "2+")
    assert 'title="More than 2">2+</span> Leads going cold' in staff_client.get("/board/needs-you/").content.decode()
    Lead.objects.filter(pk=leads[0].pk).update(stage_changed_at=timezone.now())
    item = next(item for item in needs_you() if item.key == "going_cold")
    assert (item.count, item.more, item.shown) == (2, False, "2")


@pytest.mark.services
def test_web_processes_sharing_redis_agree_on_the_board_version(staff_client, django_capture_on_commit_callbacks):
    """A second cache client stands in for another web process: its bump stales our fragments."""
    from django.conf import settings
    from django.core.cache.backends.redis import RedisCache

    from clientsflow.cache import BOARD_VERSION_KEY

    config = settings.CACHES["default"]
    other_process = RedisCache(config["LOCATION"], {"KEY_PREFIX": config["KEY_PREFIX"], **config})
    (lead,) = make_board_leads(1, stages=[Stage.NEW])
    assert 'id="col-new"' in staff_client.get("/board/").content.decode()
    Lead.objects.filter(pk=lead.pk).update(name="Renamed Elsewhere")
    assert "Renamed Elsewhere" not in staff_client.get("/board/").content.decode()  # served from the cache
    other_process.incr(BOARD_VERSION_KEY)
    assert "Renamed Elsewhere" in staff_client.get("/board/").content.decode()
