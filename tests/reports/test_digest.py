"""The owner's daily digest: once a day whatever ticks or reruns, at the right local time across
DST in two zones, and numbers that match the database."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection

from billing.models import Payment, Proposal
from bookings.models import Booking
from calls.models import Call
from clientsflow.dispatcher import DailyAtSetting, Job, dispatch_tick, registry
from clientsflow.models import IntegrationStatus, JobRun, Notification
from clientsflow.site import site_settings_update
from leads.models import Lead, LeadEvent
from outreach.models import InboundReply
from reports.digest import digest_build, digest_render, owner_today
from reports.periods import owner_zone

pytestmark = pytest.mark.django_db


def digests_mailed() -> list:
    return [m for m in mail.outbox if m.to == ["owner@agency.example"] and m.subject.startswith("Your day")]


def digest_jobs() -> dict[str, Job]:
    return {"owner_digest": registry()["owner_digest"]}


def test_the_digest_job_is_registered_at_the_settings_time():
    assert registry()["owner_digest"].schedule == DailyAtSetting("digest_time")


def test_two_ticks_and_a_rerun_send_one_digest(owner_notifications, django_capture_on_commit_callbacks, capsys):
    site_settings_update(digest_time=time(0, 0))  # due from midnight: due whenever the test runs
    now = datetime.now(UTC)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            dispatch_tick(now=now, jobs=digest_jobs())
    assert JobRun.objects.filter(job="owner_digest").count() == 1
    assert len(digests_mailed()) == 1
    # the owner moves the time later the same day: a new slot runs, still no second digest
    site_settings_update(digest_time=time(0, 1))
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_tick(
            now=max(now, datetime.combine(owner_today(), time(0, 1), tzinfo=owner_zone())), jobs=digest_jobs()
        )
    # and a rerun from the command line
    with django_capture_on_commit_callbacks(execute=True):
        call_command("digest", "--send")
    assert "already sent" in capsys.readouterr().out
    assert len(digests_mailed()) == 1
    notification = Notification.objects.get(kind="digest")
    assert notification.key == f"digest:{owner_today().isoformat()}" and notification.status == "sent"
    message = digests_mailed()[0]
    html = [body for body, mime in message.alternatives if mime == "text/html"]
    assert html and "Today's calls" in html[0] and "TODAY'S CALLS" in message.body


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_on_postgresql_send_one_digest(owner_notifications):
    site_settings_update(digest_time=time(0, 0))
    now = datetime.now(UTC)
    barrier = threading.Barrier(4)
    results: list[list[str]] = []

    def one_tick() -> None:
        try:
            barrier.wait()
            results.append(dispatch_tick(now=now, jobs=digest_jobs()))
        finally:
            connection.close()

    threads = [threading.Thread(target=one_tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(name for result in results for name in result) == ["owner_digest"]
    assert len(digests_mailed()) == 1 and Notification.objects.filter(kind="digest").count() == 1


@pytest.mark.parametrize(
    ("zone", "dst_day", "utc_before", "utc_on"),
    [
        ("America/New_York", date(2026, 3, 8), time(13, 0), time(12, 0)),  # EST -> EDT overnight
        ("Europe/Berlin", date(2026, 3, 29), time(7, 0), time(6, 0)),  # CET -> CEST overnight
    ],
)
def test_the_digest_time_is_local_across_the_dst_change(
    settings, monkeypatch, django_capture_on_commit_callbacks, zone, dst_day, utc_before, utc_on
):
    from clientsflow import dispatcher

    settings.OWNER_TIMEZONE = zone
    site_settings_update(digest_time=time(8, 0))
    runs: list[int] = []
    # the real job's schedule, with a counter for its body (the clock of the run is the test's)
    jobs = {"digest": Job("digest", registry()["owner_digest"].schedule, lambda: runs.append(1) or {})}
    monkeypatch.setitem(dispatcher._REGISTRY, "digest", jobs["digest"])
    start = datetime.combine(dst_day - timedelta(days=1), time(0, 0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    for step in range(2 * 24 * 4):  # a tick every 15 minutes for two local days
        with django_capture_on_commit_callbacks(execute=True):
            dispatch_tick(now=start + timedelta(minutes=15 * step), jobs=jobs)
    slots = [run.slot for run in JobRun.objects.filter(job="digest").order_by("slot")]
    assert len(runs) == 2
    assert [s.astimezone(ZoneInfo(zone)).time() for s in slots] == [time(8, 0), time(8, 0)]
    assert [s.time() for s in slots] == [utc_before, utc_on]
    assert [s.astimezone(ZoneInfo(zone)).date() for s in slots] == [dst_day - timedelta(days=1), dst_day]


def test_the_digest_numbers_match_the_database(seeded, now):
    zone = owner_zone()
    IntegrationStatus.objects.create(
        vendor="stripe", failing_since=now, alerted_at=now, consecutive_failures=4, last_error="HTTP 500"
    )
    checked = 0
    for back in range(0, 40):
        day = (now - timedelta(days=back)).astimezone(zone).date()
        digest = digest_build(day=day, now=now)

        def on(value, wanted):  # type: ignore[no-untyped-def]
            return value is not None and value.astimezone(zone).date() == wanted

        yesterday = day - timedelta(days=1)
        leads = Counter(lead.source for lead in Lead.objects.all() if on(lead.created_at, yesterday))
        assert digest.yesterday.new_leads_by_source == dict(leads)
        labels: Counter[str] = Counter()
        for reply in InboundReply.objects.select_related("classification"):
            if on(reply.received_at, yesterday):
                c = getattr(reply, "classification", None)
                labels[(c.final_label or c.label) if c else "not classified yet"] += 1
        assert digest.yesterday.replies_by_label == dict(labels)
        assert digest.yesterday.bookings == sum(on(b.created_at, yesterday) for b in Booking.objects.all())
        assert digest.yesterday.calls == sum(on(c.started_at, yesterday) for c in Call.objects.all())
        assert digest.yesterday.proposals_sent == sum(on(p.sent_at, yesterday) for p in Proposal.objects.all())
        revenue: Counter[str] = Counter()
        for p in Payment.objects.filter(status__in=["paid", "refunded"]):
            if on(p.paid_at, yesterday):
                revenue[p.currency] += p.amount_minor - p.refunded_minor
        assert digest.yesterday.revenue == dict(revenue)
        calls_today = [b for b in Booking.objects.filter(status__in=Booking.ACTIVE_STATUSES) if on(b.start_at, day)]
        assert len(digest.calls) == len(calls_today)
        checked += len(calls_today) + sum(leads.values()) + sum(labels.values())
    assert checked > 0  # the seeded days had something to count
    assert digest.alerts and "Stripe" in digest.alerts[0]
    text = digest_render(digest).text
    assert "INTEGRATIONS" in text and "Stripe has been failing" in text


def test_the_command_prints_without_sending(owner_notifications, capsys):
    call_command("digest", "--date", "2026-03-08")
    out = capsys.readouterr().out
    assert out.startswith("Your day, Sun 8 Mar") and "YESTERDAY" in out
    assert not mail.outbox and not Notification.objects.exists()


def test_a_bad_date_says_what_to_type():
    with pytest.raises(Exception, match="--date must look like 2026-03-08"):
        call_command("digest", "--date", "8/3/2026")


def test_the_digest_lists_overdue_tasks_oldest_first_and_todays_calls_with_join_links(settings):
    from leads.services.tasks import task_add, task_complete
    from tests.bookings.factories import BookingFactory
    from tests.leads.factories import LeadFactory

    settings.OWNER_TIMEZONE = "America/New_York"
    now = datetime(2026, 7, 15, 16, 0, tzinfo=UTC)  # 12:00 EDT
    jane = LeadFactory(name="Jane Doe")
    task_add(lead=jane, title="Call back", due_at=now - timedelta(hours=1))
    task_add(lead=jane, title="Send the quote", due_at=now - timedelta(days=2))
    task_add(lead=jane, title="Later today", due_at=now + timedelta(hours=3))  # due, not overdue
    done = task_add(lead=jane, title="Done already", due_at=now - timedelta(days=3))
    task_complete(task=done)
    merged = LeadFactory()
    task_add(lead=merged, title="On a merged lead", due_at=now - timedelta(days=1))
    task_add(lead=LeadFactory(), title="Tomorrow", due_at=now + timedelta(days=1))
    Lead.objects.filter(pk=merged.pk).update(merged_into=jane)
    cold = LeadFactory(name="Cold Lead", stage="contacted")
    Lead.objects.filter(pk__in=[cold.pk, jane.pk, merged.pk]).update(created_at=now - timedelta(days=30))
    LeadEvent.objects.filter(lead=cold).update(at=now - timedelta(days=30))
    call = BookingFactory(
        lead=jane, start_at=datetime(2026, 7, 15, 18, 30, tzinfo=UTC), meet_url="https://meet.google.com/abc-defg-hij"
    )
    BookingFactory(lead=jane, start_at=datetime(2026, 7, 16, 4, 0, tzinfo=UTC))  # 00:00 EDT tomorrow

    digest = digest_build(day=date(2026, 7, 15), now=now)
    assert [(t.title, t.lead_name) for t in digest.overdue_tasks] == [
        ("Send the quote", "Jane Doe"),
        ("Call back", "Jane Doe"),
    ]
    assert [(c.when, c.name, c.join) for c in digest.calls] == [
        ("14:30", call.name, "https://meet.google.com/abc-defg-hij")
    ]
    rendered = digest_render(digest)
    assert f"- Send the quote (Jane Doe), due Mon 13 Jul 12:00\n  {digest.overdue_tasks[0].lead_url}" in rendered.text
    assert "Done already" not in rendered.text
    # due later today and going cold are in "what needs you"; the overdue ones are not counted twice
    needs = {item.label: (item.count, item.first) for item in digest.needs_you}
    assert needs["Tasks due later today"] == (1, ["Later today (Jane Doe)"])
    assert needs["Leads going cold"] == (1, ["Cold Lead"])
    assert "- Tasks due later today: 1 (Later today (Jane Doe))" in rendered.text
    assert "Join: https://meet.google.com/abc-defg-hij" in rendered.text
    assert 'href="https://meet.google.com/abc-defg-hij"' in rendered.html
