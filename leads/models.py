"""Leads: identity, the pipeline stage and its history, the lead's timeline and merges."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clientsflow.models import TimeStampedModel


class Stage(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    REPLIED = "replied", "Replied"
    BOOKED = "booked", "Booked"
    CALL_DONE = "call_done", "Call done"
    PROPOSAL_SENT = "proposal_sent", "Proposal sent"
    SIGNED = "signed", "Signed"
    PAID = "paid", "Paid"
    NURTURE = "nurture", "Nurture"
    LOST = "lost", "Lost"


# The board's column order.
PIPELINE_ORDER: list[str] = [s.value for s in Stage]

# Which moves are legal. Events skip ahead (a booking straight from `new`); the owner may step
# back one stage to correct a mistake; `paid` is final (a refund is recorded on the payment).
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    Stage.NEW: frozenset({Stage.CONTACTED, Stage.REPLIED, Stage.BOOKED, Stage.NURTURE, Stage.LOST}),
    Stage.CONTACTED: frozenset({Stage.REPLIED, Stage.BOOKED, Stage.NURTURE, Stage.LOST}),
    Stage.REPLIED: frozenset({Stage.CONTACTED, Stage.BOOKED, Stage.NURTURE, Stage.LOST}),
    # Back to new or contacted too: a cancelled call returns the lead to the stage it was booked from.
    Stage.BOOKED: frozenset({Stage.NEW, Stage.CONTACTED, Stage.REPLIED, Stage.CALL_DONE, Stage.NURTURE, Stage.LOST}),
    Stage.CALL_DONE: frozenset({Stage.BOOKED, Stage.PROPOSAL_SENT, Stage.NURTURE, Stage.LOST}),
    Stage.PROPOSAL_SENT: frozenset({Stage.CALL_DONE, Stage.SIGNED, Stage.NURTURE, Stage.LOST}),
    Stage.SIGNED: frozenset({Stage.PROPOSAL_SENT, Stage.PAID, Stage.LOST}),
    Stage.PAID: frozenset(),
    Stage.NURTURE: frozenset({Stage.NEW, Stage.CONTACTED, Stage.REPLIED, Stage.BOOKED, Stage.LOST}),
    Stage.LOST: frozenset({Stage.NEW, Stage.NURTURE}),
}

# Fields an intake may fill in; the owner's own edits to them are never overwritten.
ENRICHABLE_FIELDS = ("name", "email", "phone", "company")

# What a card reads from its lead's row; the board's card cache keys on these values, so it holds
# everything a card depends on (`stage_changed_at` decides the "going cold" badge).
CARD_FIELDS = (
    "id",
    "public_id",
    "name",
    "email",
    "phone",
    "company",
    "source",
    "stage",
    "stage_changed_at",
    "created_at",
    "seen_at",
    "value_minor",
    "value_currency",
)


# A lead's source label, as the intake webhook URL and the CSV import accept it (fits Lead.source).
SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class Lead(TimeStampedModel):
    # No index of its own: `lead_recent_idx` starts with it (every range and ordering on it) and
    # `lead_arrivals_idx` holds the active leads' (the recency bar's index-only counts).
    created_at = models.DateTimeField(auto_now_add=True)
    public_id = models.UUIDField(verbose_name="public ID", default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    email_normalized = models.CharField(
        verbose_name="email (as matched)", max_length=254, blank=True, db_index=True, editable=False
    )
    phone = models.CharField(max_length=64, blank=True)
    phone_e164 = models.CharField(
        verbose_name="phone (international)", max_length=20, blank=True, db_index=True, editable=False
    )
    company = models.CharField(max_length=200, blank=True)
    # No index of its own: `lead_source_idx` starts with it (every filter, range and distinct on it).
    source = models.CharField(max_length=40, default="manual")
    external_ids = models.JSONField(
        verbose_name="IDs in other systems", default=dict, blank=True, help_text="Ids in other systems, by source."
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NEW, db_index=True)
    stage_changed_at = models.DateTimeField(verbose_name="in this stage since", null=True, blank=True)
    nurture_until = models.DateField(null=True, blank=True)
    lost_reason = models.CharField(max_length=255, blank=True)
    owner_edited_fields = models.JSONField(
        default=list, blank=True, editable=False, help_text="Fields the owner changed by hand."
    )
    seen_at = models.DateTimeField(verbose_name="seen", null=True, blank=True, help_text="When the owner first saw it.")
    # The deal's expected value in integer minor units (cents) of `value_currency`; empty until
    # someone (the owner, or a sent proposal) says what the deal is worth.
    value_minor = models.PositiveBigIntegerField(verbose_name="deal value", null=True, blank=True)
    value_currency = models.CharField(verbose_name="deal currency", max_length=3, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_leads", editable=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["email_normalized"],
                condition=Q(merged_into__isnull=True) & ~Q(email_normalized=""),
                name="lead_unique_active_email",
            ),
            # Two people may share a phone (a shared office line): only two leads with this phone
            # and no email at all are surely one person.
            models.UniqueConstraint(
                fields=["phone_e164"],
                condition=Q(merged_into__isnull=True) & ~Q(phone_e164="") & Q(email_normalized=""),
                name="lead_unique_active_phone_without_email",
            ),
            models.CheckConstraint(condition=Q(stage__in=PIPELINE_ORDER), name="lead_stage_valid"),
        ]
        indexes = [
            # The board's cards: each column's newest active leads, an index-only range scan per
            # stage. Partial, as the board's query is (merged_into IS NULL): a full index would
            # need the table for that filter, and PostgreSQL's planner then preferred scanning
            # `lead_arrivals_idx` backwards, filtering on stage (most of the table for a stage
            # whose leads are all old).
            models.Index(
                fields=["stage", "-created_at", "-id"], condition=Q(merged_into__isnull=True), name="lead_board_idx"
            ),
            models.Index(fields=["source", "-created_at"], name="lead_source_idx"),
            # Reports: arrivals per source in a date range, without reading the table.
            models.Index(
                fields=["source", "created_at"], condition=Q(merged_into__isnull=True), name="lead_active_source_idx"
            ),
            # Reports (funnel): each moved lead's source, read from the active leads alone in id
            # order instead of the whole table (PostgreSQL: an index-only scan).
            models.Index(
                fields=["id", "source"], condition=Q(merged_into__isnull=True), name="lead_active_id_source_idx"
            ),
            # Reports: how many sit in each stage and since when (where leads stall), index only.
            models.Index(
                fields=["stage", "source", "stage_changed_at", "created_at"],
                condition=Q(merged_into__isnull=True),
                name="lead_stage_since_idx",
            ),
            # The recency bar ("new in the last hour / day / week") and the "Arrived" filter's
            # counts: an index-only range scan over recent active leads, never the whole table.
            # Not partial: SQLite's planner passes over a partial index here for the plain
            # created_at index, which is not covering.
            models.Index(fields=["created_at", "merged_into", "stage", "source", "seen_at"], name="lead_recent_idx"),
            # The recency bar's three counts (last hour, day, week): index-only range scans of the
            # active leads' arrival times, on both databases; the smallest index PostgreSQL's
            # planner can pick for them, so it does (rather than a wider one it visits the table from).
            models.Index(fields=["created_at"], condition=Q(merged_into__isnull=True), name="lead_arrivals_idx"),
            # The board's value totals per column (and with "unseen only"): an index-only scan over
            # the active leads that have a value, never the whole table.
            models.Index(
                fields=["stage", "value_currency", "value_minor", "seen_at"],
                condition=Q(merged_into__isnull=True) & Q(value_minor__isnull=False),
                name="lead_value_idx",
            ),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or str(self.public_id)


class LeadCount(models.Model):
    """How many active (not merged) leads there are per (stage, source, unseen): the board's counts.

    Kept by database triggers on `leads_lead` (migration 0011), in the same transaction as the
    write, whatever made it: a service, a bulk insert, a queryset `update()`, the admin or a
    factory in a test. Each write adds +1/-1 to one of `COUNTER_SHARDS` rows for its key, picked
    at random on PostgreSQL (`leads.db_triggers.COUNTER_SHARDS`), so concurrent intakes rarely wait on one another's row lock; a
    reader sums the shards (a few hundred rows at most, whatever the number of leads).
    `manage.py counters_rebuild` recomputes them from the leads table.

    `changes` counts the leads each write added to or took from the key, and only grows: a
    stage's sum of it is the stamp the board keys that column's cache entries on, moved by the
    write's own transaction (see `leads.db_triggers`).

    SQLite drops a table's triggers when a migration rebuilds it (an AlterField on Lead does);
    tests/leads/test_counters.py checks they exist after all migrations. A migration that rebuilds
    `leads_lead` must reinstall them (see `leads.migrations.0014_lead_counters`).
    """

    stage = models.CharField(max_length=20)
    source = models.CharField(max_length=40)
    unseen = models.BooleanField()
    shard = models.SmallIntegerField(default=0)
    n = models.BigIntegerField(default=0)
    changes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stage", "source", "unseen", "shard"], name="leadcount_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.stage}/{self.source}/{'unseen' if self.unseen else 'seen'}#{self.shard}: {self.n}"


class StageChange(models.Model):
    # No index of its own: stagechange_lead_time_idx and stagechange_lead_stage_idx start with it.
    # With one, PostgreSQL would read the funnel's moves through it and then each row, rather
    # than from stagechange_lead_stage_idx alone.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes", db_index=False)
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=100, help_text="The person, or what moved it.")
    reason = models.CharField(max_length=255, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The end of the stay this change began: the lead's next change's time, written by the stage
    # service with that change (NULL while the lead is still in `to_stage`). Stored so the time in
    # stage report reads each stay from one row instead of pairing up the history.
    left_at = models.DateTimeField(null=True, blank=True)
    seconds_in_stage = models.FloatField(null=True, blank=True, help_text="left_at - changed_at, in seconds.")
    # A move out of Nurture keeps the snooze date the lead had there, so undoing the move puts it
    # back (the move itself clears `Lead.nurture_until`).
    from_nurture_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            # Reports: the moves in a date range with their lead and stage (funnel), and each lead's
            # history in order, both read from the index alone.
            models.Index(fields=["changed_at", "lead", "to_stage"], name="stagechange_time_lead_idx"),
            models.Index(fields=["lead", "changed_at", "id"], name="stagechange_lead_time_idx"),
            # Funnel: each lead's moves together with their stage, so the furthest stage per lead is
            # one pass in lead order with no sort, from the index alone.
            models.Index(fields=["lead", "changed_at", "to_stage"], name="stagechange_lead_stage_idx"),
            # Time in stage: finished stays per stage already in order of length, with the start
            # and lead the report filters on, read from the index alone.
            models.Index(
                fields=["to_stage", "seconds_in_stage", "changed_at", "lead"],
                condition=models.Q(seconds_in_stage__isnull=False),
                name="stagechange_stay_length_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage or '∅'} → {self.to_stage}"


class TimelineKind(models.TextChoices):
    """Base for the kinds of event an app records on a lead's timeline.

    Each app declares its own kinds by subclassing this (`class BookingEventKind(TimelineKind)`)
    and passes them to `timeline_record`, which stores the value and its label. `LeadEvent.kind`
    has no choices, so a new kind in any app needs no migration here.
    """


class LeadEvent(models.Model):
    """An entry on the lead's timeline, recorded through `leads.services.timeline.timeline_record`."""

    class Kind(TimelineKind):
        """The kinds leads itself records. Other apps' kinds live in those apps."""

        CREATED = "created", "Created"
        DUPLICATE_INTAKE = "duplicate_intake", "Arrived again"
        MERGED = "merged", "Merged"
        MERGE_UNDONE = "merge_undone", "Merge undone"
        NOTE = "note", "Note"
        ALSO_SEEN = "also_seen", "Also seen as"
        TASK_ADDED = "task_added", "Task added"
        TASK_DONE = "task_done", "Task done"
        TASK_REOPENED = "task_reopened", "Task reopened"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, help_text="Owned by the app that recorded it.")
    label = models.CharField(max_length=64, blank=True, help_text="The kind's display label when it was recorded.")
    summary = models.CharField(max_length=255)
    data = models.JSONField(default=dict, blank=True)
    # No index of its own: no query reads events by time alone (a lead's timeline goes through its
    # foreign key's index, the reports through `leadevent_kind_at_idx`), and every index is one more
    # page written per event, and intake writes an event per delivery.
    at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # Reports (outreach): the unsubscribes in a range with their lead, from the index alone
            # (the timeline holds every kind of event; these are a few of them).
            models.Index(fields=["kind", "at", "lead"], name="leadevent_kind_at_idx"),
        ]

    def __str__(self) -> str:
        return self.summary

    @property
    def title(self) -> str:
        return self.label or self.kind.replace("_", " ").capitalize()


class LeadMerge(models.Model):
    """A merge of `duplicate` into `survivor`, with what is needed to undo it."""

    survivor = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="merges_kept")
    duplicate = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="merges_absorbed")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)
    survivor_before = models.JSONField(help_text="The survivor's fields the merge changed, as they were.")
    survivor_after = models.JSONField(help_text="The same fields as the merge left them.")
    moved = models.JSONField(default=dict, help_text="Ids of rows moved to the survivor, by kind.")
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.duplicate_id} → {self.survivor_id}"


class PossibleDuplicate(models.Model):
    """Two leads that may be one person (e.g. one phone, two emails), for a human to merge or dismiss.

    The pair is stored in id order so that each unordered pair has one row.
    """

    class Reason(models.TextChoices):
        SAME_PHONE = "same_phone", "Same phone"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MERGED = "merged", "Merged"
        DISMISSED = "dismissed", "Not the same person"

    lead_a = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    lead_b = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merge = models.ForeignKey(
        LeadMerge, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["lead_a", "lead_b"], name="possibleduplicate_unique_pair"),
            models.CheckConstraint(condition=Q(lead_a__lt=models.F("lead_b")), name="possibleduplicate_ordered_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_a} / {self.lead_b} ({self.get_reason_display()})"


class Note(models.Model):
    """Something the owner wrote about a lead ("called, try again Thursday"), in markdown-lite."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="notes")
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.body[:60]


class Task(models.Model):
    """A next step on a lead, due at an instant (stored in UTC, entered and shown in the owner's zone)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    due_at = models.DateTimeField(db_index=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(done_at__isnull=True), name="task_open_due_idx"),
            models.Index(fields=["lead", "due_at"], name="task_lead_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(done_at__isnull=True, done_by__isnull=True) | Q(done_at__isnull=False),
                name="task_done_by_only_when_done",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.done_at is None


class LeadImport(models.Model):
    """One uploaded CSV file and the one import run it may start.

    The file's bytes are kept here (not on one machine's disk), so any worker can run or resume
    it. `status` moves `uploaded -> queued -> running -> done | failed`; starting is a
    compare-and-swap from `uploaded`, so two clicks on Import start one run. `last_row` is the
    row number (the header is row 1) up to which rows are imported: each chunk commits its leads
    and the new `last_row` and counts in one transaction, so a resumed run never imports a row
    twice.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded, not imported"
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField(verbose_name="uploaded", auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="uploaded by",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    file_name = models.CharField(max_length=255)
    file_size = models.PositiveIntegerField(default=0)
    content = models.BinaryField(editable=False, help_text="The uploaded file, emptied once the import is done.")
    source = models.CharField(max_length=40, default="csv", help_text="For rows without a source of their own.")
    columns = models.JSONField(default=list, blank=True, help_text="The file's header row.")
    mapping = models.JSONField(default=list, blank=True, help_text="The field each column fills; empty if ignored.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claim = models.UUIDField(null=True, blank=True, editable=False, help_text="The worker running it now.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    last_row = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(verbose_name="created", default=0)
    enriched_count = models.PositiveIntegerField(verbose_name="enriched", default=0)
    unchanged_count = models.PositiveIntegerField(verbose_name="unchanged", default=0)
    rejected_count = models.PositiveIntegerField(verbose_name="rejected", default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="leadimport_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["uploaded", "queued", "running", "done", "failed"]),
                name="leadimport_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} (import {self.pk})" if self.pk else self.file_name

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class LeadImportReject(models.Model):
    """A row an import could not take in, with the reason and the row as it was."""

    lead_import = models.ForeignKey(LeadImport, on_delete=models.CASCADE, related_name="rejects")
    row_number = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    cells = models.JSONField(default=list)

    class Meta:
        ordering = ["lead_import", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["lead_import", "row_number"], name="leadimportreject_unique_row"),
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason}"
