"""The board's counts (`LeadCount`): kept by database triggers, equal to a real GROUP BY after any
mix of writes, on SQLite and on PostgreSQL (run this file with DATABASE_URL set for the latter)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from clientsflow.cache import board_version
from leads.db_triggers import counter_triggers_present
from leads.models import Lead, LeadCount, Stage
from leads.selectors import BoardFilters, board_summary, column_stamps, lead_counts, leads_unseen_count
from leads.services.importer import lead_import_csv
from leads.services.intake import LeadData, lead_intake
from leads.services.merge import lead_merge, lead_merge_undo
from leads.services.seen import leads_mark_seen
from leads.services.stages import lead_mark_seen, lead_move_stage
from privacy.services.erase import confirmation_phrase, person_erase
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _group_by() -> dict[tuple[str, str, bool], int]:
    rows = (
        Lead.objects.filter(merged_into__isnull=True)
        .order_by()
        .values_list("stage", "source")
        .annotate(unseen=Count("id", filter=Q(seen_at__isnull=True)), total=Count("id"))
    )
    result: dict[tuple[str, str, bool], int] = {}
    for stage, source, unseen, total in rows:
        if unseen:
            result[(stage, source, True)] = unseen
        if total - unseen:
            result[(stage, source, False)] = total - unseen
    return result


def _intake(email: str, source: str = "website", **fields: str):
    return lead_intake(data=LeadData.build(email=email, **fields), source=source).lead


def test_the_triggers_exist_after_all_migrations():
    # SQLite drops a table's triggers when a migration rebuilds it: a later AlterField on Lead
    # without `install_counter_triggers` would make the counts drift, and this fails.
    assert counter_triggers_present(connection)


def test_counters_equal_a_group_by_after_a_mix_of_writes(admin_user):
    leads = [_intake(f"p{i}@example.com", source=("website", "ghl", "referral")[i % 3]) for i in range(12)]
    assert lead_counts() == _group_by()

    lead_move_stage(lead=leads[0], to_stage=Stage.CONTACTED, actor_label="test")
    lead_move_stage(lead=leads[1], to_stage=Stage.BOOKED, actor_label="test")
    lead_move_stage(lead=leads[1], to_stage=Stage.LOST, actor_label="test", reason="went quiet")
    lead_mark_seen(lead=leads[2])
    _intake("p3@example.com", name="Again")  # a duplicate intake: enriches, counts nothing new
    merge = lead_merge(survivor=leads[4], duplicate=leads[5], actor=admin_user)
    assert lead_counts() == _group_by()
    lead_merge_undo(merge=merge, actor=admin_user)
    lead_merge(survivor=leads[6], duplicate=leads[7], actor=admin_user)
    person_erase(lead=leads[8], actor=None, confirmation=confirmation_phrase(leads[8]))
    Lead.objects.filter(pk=leads[9].pk).update(source="import")  # writes outside a service count too
    Lead.objects.filter(pk=leads[10].pk).delete()
    LeadFactory.create_batch(3, source="ghl")
    Lead.objects.bulk_create([Lead(email=f"b{i}@example.com", email_normalized=f"b{i}@example.com") for i in range(4)])
    leads_mark_seen(up_to=timezone.now() + timedelta(seconds=1), actor=admin_user)
    _intake("late@example.com", source="referral")

    assert lead_counts() == _group_by()
    assert leads_unseen_count() == Lead.objects.filter(merged_into__isnull=True, seen_at__isnull=True).count() == 1


def test_board_counts_with_filters_match_the_leads_table():
    for i in range(9):
        _intake(f"f{i}@example.com", source=("website", "ghl", "referral")[i % 3])
    lead_move_stage(lead=Lead.objects.get(email="f0@example.com"), to_stage=Stage.CONTACTED, actor_label="t")
    lead_mark_seen(lead=Lead.objects.get(email="f1@example.com"))
    for filters in (BoardFilters(), BoardFilters(source="ghl"), BoardFilters(stage="new"), BoardFilters(unseen=True)):
        expected = dict.fromkeys(Stage.values, 0)
        active = Lead.objects.filter(merged_into__isnull=True)
        if filters.source:
            active = active.filter(source=filters.source)
        if filters.stage:
            active = active.filter(stage=filters.stage)
        if filters.unseen:
            active = active.filter(seen_at__isnull=True)
        for row in active.values("stage").annotate(n=Count("id")):
            expected[row["stage"]] = row["n"]
        assert board_summary(filters).counts == expected, filters


def test_counters_rebuild_recomputes_drifted_counts(capsys):
    LeadFactory.create_batch(5)
    LeadCount.objects.update(n=999)
    LeadCount.objects.create(stage="paid", source="nowhere", unseen=True, shard=3, n=7)
    call_command("counters_rebuild")
    assert lead_counts() == _group_by() == {("new", "website", True): 5}
    assert "Rebuilt the board's lead counts" in capsys.readouterr().out


def _stamps_moved(write) -> dict[str, int]:
    """By how much `write()` moved each column's stamp (only the columns it moved)."""
    before = column_stamps()
    write()
    after = column_stamps()
    assert all(after[stage] >= before[stage] for stage in before), "a stamp went down"
    return {stage: after[stage] - before[stage] for stage in after if after[stage] != before[stage]}


def test_every_write_to_a_column_moves_its_stamp_and_no_other(admin_user):
    a, b, c = (_intake(f"s{i}@example.com") for i in range(3))

    assert _stamps_moved(lambda: _intake("s3@example.com")) == {"new": 1}
    assert _stamps_moved(lambda: lead_move_stage(lead=a, to_stage=Stage.CONTACTED, actor_label="t")) == {
        "new": 1,
        "contacted": 1,
    }
    assert _stamps_moved(lambda: lead_mark_seen(lead=b)) == {"new": 2}  # out of "unseen", into "seen"
    assert _stamps_moved(lambda: lead_merge(survivor=a, duplicate=c, actor=admin_user)) == {"new": 1}
    # Writes outside any service move it too, in their own statement: the board needs no telling.
    assert _stamps_moved(lambda: Lead.objects.filter(pk=b.pk).update(source="import")) == {"new": 2}
    assert _stamps_moved(lambda: Lead.objects.filter(pk=b.pk).delete()) == {"new": 1}
    assert _stamps_moved(lambda: LeadFactory(stage=Stage.PAID)) == {"paid": 1}
    # What shows on no card and in no count moves nothing.
    assert _stamps_moved(lambda: _intake("s3@example.com", name="Same Person Again")) == {}
    assert _stamps_moved(lambda: Lead.objects.filter(pk=b.pk).update(company="Renamed Ltd")) == {}


def test_a_column_whose_count_comes_back_still_has_a_new_stamp():
    gone = _intake("gone@example.com")
    counts_before, stamps_before = board_summary(BoardFilters()).counts, column_stamps()

    Lead.objects.filter(pk=gone.pk).delete()
    _intake("came@example.com")

    summary = board_summary(BoardFilters())
    assert summary.counts == counts_before  # the same count: a key on it alone would serve the old column
    assert summary.stamps["new"] == stamps_before["new"] + 2
    assert summary.stamps == column_stamps()


def test_a_bulk_insert_moves_the_stamps_by_its_rows(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("Email,Name\n" + "".join(f"bulk{i}@example.com,Bulk {i}\n" for i in range(7)), encoding="utf-8")
    assert _stamps_moved(lambda: lead_import_csv(path=path)) == {"new": 7}


def test_the_rebuild_keeps_the_stamps_with_the_counts_and_drops_every_board_entry(
    django_capture_on_commit_callbacks,
):
    LeadFactory.create_batch(3)
    version = board_version()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("counters_rebuild")
    assert column_stamps()["new"] == 3
    # The stamps started again (and may repeat a value some cache entry was keyed on): the
    # board's own version moved, which every entry's key holds.
    assert board_version() > version
