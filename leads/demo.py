"""Demo leads for `manage.py seed_demo`: realistic, reproducible, across every stage.

Everything is drawn from one `random.Random(seed)`, so the same seed gives the same leads, stages
and history. Times are offsets from `now` (the command passes the start of the current hour, so
two runs in the same hour are identical to the second).

Addresses use the reserved `.example` domain and phone numbers the 555 exchange, so demo data
can never reach a real person even if someone approves a message to it.

Leads, their stage history and timeline events are written in chunks of 2,000 leads, one
`executemany` INSERT per table (see `_insert` for why not `bulk_create`).
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import DateField, DateTimeField, Field, JSONField, Model, UUIDField

from clientsflow.demo import DemoContext
from clientsflow.site import site_settings
from leads.models import Lead, LeadEvent, Note, Stage, StageChange, Task

CHUNK_SIZE = 2000
OWNER_USERNAME = "owner"
# The demo owner's address: a reserved domain (RFC 2606), so nothing sent to it reaches anyone.
DEMO_OWNER_EMAIL = "owner@example.com"
WEEKS_BACK = 8
DETAIL_LEADS_PER_STAGE = 400  # leads per stage that other apps seed detail for

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
    "Mia", "Mateo", "Amelia", "Benjamin", "Harper", "Henry", "Evelyn", "Theodore", "Camila", "Jack",
    "Aria", "Levi", "Luna", "Daniel", "Chloé", "Sebastián", "Zoë", "Omar", "Priya", "Wei",
    "Aisha", "Hiroshi", "Fatima", "Dmitri", "Ingrid", "Kwame", "Leila", "Rafael", "Sofía", "Tomás",
    "Nadia", "Arjun", "Grace", "Owen", "Hannah", "Samuel", "Maya", "Ethan", "Ruth", "Marcus",
    "Elena", "Jonah", "Yara", "Felix", "Clara", "Malik", "Nora", "Victor", "Ana", "Julian",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernández", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Pérez", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young",
    "Nguyen", "Patel", "Kim", "Chen", "Okafor", "Müller", "Rossi", "Kowalski", "Haddad", "Tanaka",
    "O'Brien", "Fitzgerald", "Novak", "Silva", "Andersson", "Dubois", "Mensah", "Ivanova", "Cohen", "Sato",
)  # fmt: skip
COMPANY_FIRST = (
    "Northwind", "Blue Harbor", "Summit", "Brightpath", "Cedar", "Ironwood", "Maple Street", "Redline",
    "Silver Oak", "Lakeside", "Evergreen", "Copperleaf", "Harborview", "Keystone", "Pinecrest", "Riverbend",
    "Sunrise", "Atlas", "Granite", "Oakmont", "Crescent", "Bluebird", "Westfield", "Highland",
    "Foxglove", "Meridian", "Beacon", "Juniper", "Stonebridge", "Tidewater",
)  # fmt: skip
COMPANY_SECOND = (
    "Dental", "Logistics", "Roofing", "Realty", "Fitness", "Law Group", "Plumbing", "Coffee Co.",
    "Landscaping", "Veterinary Clinic", "Builders", "Consulting", "Auto Repair", "Bakery", "Med Spa",
    "Chiropractic", "Insurance", "Wealth Partners", "Solar", "HVAC", "Studios", "Outfitters",
)  # fmt: skip
PERSONAL_DOMAINS = ("mail.example", "inbox.example", "post.example")
AREA_CODES = (
    "212", "213", "305", "310", "312", "404", "415", "469", "503", "512", "602", "617", "646", "702",
    "713", "720", "773", "786", "818", "832", "917", "206", "303", "347", "408", "424", "510", "619",
)  # fmt: skip
SOURCES = (("website", 35), ("ghl", 20), ("referral", 15), ("linkedin", 15), ("csv", 15))

# How many leads sit in each stage: a funnel, plus snoozed and lost ones.
STAGE_WEIGHTS: dict[str, int] = {
    Stage.NEW: 28,
    Stage.CONTACTED: 20,
    Stage.REPLIED: 11,
    Stage.BOOKED: 8,
    Stage.CALL_DONE: 6,
    Stage.PROPOSAL_SENT: 5,
    Stage.SIGNED: 3,
    Stage.PAID: 5,
    Stage.NURTURE: 6,
    Stage.LOST: 8,
}
_FORWARD: list[str] = [
    Stage.CONTACTED,
    Stage.REPLIED,
    Stage.BOOKED,
    Stage.CALL_DONE,
    Stage.PROPOSAL_SENT,
    Stage.SIGNED,
    Stage.PAID,
]

# Who or what moves a lead into each stage (the owner by hand, or the event that does it).
MOVED_BY: dict[str, str] = {
    Stage.CONTACTED: "owner",
    Stage.REPLIED: "reply received",
    Stage.BOOKED: "booking",
    Stage.CALL_DONE: "call transcript matched",
    Stage.PROPOSAL_SENT: "proposal sent",
    Stage.SIGNED: "proposal signed",
    Stage.PAID: "stripe payment",
    Stage.NURTURE: "owner",
    Stage.LOST: "owner",
}
LOST_REASONS = (
    "Went with another agency",
    "No budget this quarter",
    "No answer after three follow-ups",
    "Not a fit: needs in-house staff",
    "Chose to do it themselves",
)
NURTURE_REASONS = ("Asked to reconnect next quarter", "Waiting on their new budget", "Back from leave next month")


def stage_path(stage: str, rng: random.Random) -> list[str]:
    """The stages a lead went through after `new` to reach `stage`, every step a legal move."""
    if stage == Stage.NEW:
        return []
    if stage in _FORWARD:
        return _FORWARD[: _FORWARD.index(stage) + 1]
    # Snoozed or lost somewhere along the way.
    reach = rng.choice([1, 1, 2, 3] if stage == Stage.NURTURE else [0, 1, 1, 2, 3, 4, 5])
    return [*_FORWARD[:reach], stage]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass
class _Plan:
    """One demo lead, decided in full before anything is written."""

    lead: dict[str, Any]  # Lead field values
    moves: list[tuple[str, datetime, str]]  # (to_stage, when, reason)


@dataclass
class DemoLeadsResult:
    leads_by_stage: dict[str, list[int]] = field(default_factory=dict)
    stage_changes: int = 0


class _Generator:
    def __init__(self, rng: random.Random, now: datetime, taken_emails: set[str], taken_phones: set[str]) -> None:
        self.rng = rng
        self.now = now
        self.emails = taken_emails
        self.phones = taken_phones
        self.sources = [s for s, _ in SOURCES]
        self.source_weights = [w for _, w in SOURCES]
        self.stages = list(STAGE_WEIGHTS)
        self.stage_weights = list(STAGE_WEIGHTS.values())

    def _email(self, first: str, last: str, company: str) -> str:
        rng = self.rng
        domain = f"{_ascii(company)}.example" if company and rng.random() < 0.7 else rng.choice(PERSONAL_DOMAINS)
        local = rng.choice((f"{_ascii(first)}.{_ascii(last)}", f"{_ascii(first)[0]}{_ascii(last)}", _ascii(first)))
        email, n = f"{local}@{domain}", 1
        while email in self.emails:
            n += 1
            email = f"{local}{n}@{domain}"
        self.emails.add(email)
        return email

    def _phone(self) -> tuple[str, str]:
        rng = self.rng
        for _ in range(50):
            area, line = rng.choice(AREA_CODES), rng.randrange(10000)
            e164 = f"+1{area}555{line:04d}"
            if e164 not in self.phones:
                self.phones.add(e164)
                shown = rng.choice((f"({area}) 555-{line:04d}", f"+1 {area} 555 {line:04d}", f"{area}.555.{line:04d}"))
                return shown, e164
        return "", ""  # every 555 number of these area codes is taken: leave this lead without one

    def plan(self, stage: str) -> _Plan:
        rng, now = self.rng, self.now
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = f"{rng.choice(COMPANY_FIRST)} {rng.choice(COMPANY_SECOND)}" if rng.random() < 0.85 else ""
        roll = rng.random()
        has_email, has_phone = roll < 0.92, roll > 0.3
        email = self._email(first, last, company) if has_email else ""
        phone, e164 = self._phone() if has_phone else ("", "")
        if not email and not e164:
            email = self._email(first, last, company)
        source = rng.choices(self.sources, self.source_weights)[0]
        path = stage_path(stage, rng)
        # Leads further along tend to be older; everything falls within the last eight weeks.
        oldest = timedelta(weeks=WEEKS_BACK)
        youngest = min(timedelta(days=1.5 * len(path)), oldest / 2) + timedelta(minutes=30)
        created = now - timedelta(seconds=rng.uniform(youngest.total_seconds(), oldest.total_seconds()))
        span = (now - timedelta(minutes=10) - created).total_seconds()
        offsets = sorted(rng.uniform(0.05, 1.0) * span for _ in path)
        moves = []
        for to_stage, offset in zip(path, offsets, strict=True):
            reason = ""
            if to_stage == Stage.LOST:
                reason = rng.choice(LOST_REASONS)
            elif to_stage == Stage.NURTURE:
                reason = rng.choice(NURTURE_REASONS)
            moves.append((to_stage, created + timedelta(seconds=offset), reason))
        first_touch = moves[0][1] if moves else now
        seen = bool(moves) or rng.random() < 0.5
        seen_at = None
        if seen:
            seen_at = min(created + timedelta(minutes=rng.uniform(5, 600)), first_touch, now)
        last_move = moves[-1][1] if moves else None
        lead = {
            "public_id": uuid.uuid4(),
            "name": f"{first} {last}",
            "email": email,
            "email_normalized": email.lower(),
            "phone": phone,
            "phone_e164": e164,
            "company": company,
            "source": source,
            "external_ids": {"ghl": f"ghl_{rng.getrandbits(48):012x}"} if source == "ghl" else {},
            "stage": stage,
            "stage_changed_at": last_move,
            "seen_at": seen_at,
            "lost_reason": moves[-1][2] if stage == Stage.LOST else "",
            "nurture_until": (now + timedelta(days=rng.randint(10, 75))).date() if stage == Stage.NURTURE else None,
            "created_at": created,
            "updated_at": last_move or seen_at or created,
        }
        return _Plan(lead=lead, moves=moves)


def _stages_for(count: int, rng: random.Random) -> list[str]:
    """Weighted stages, with every stage at least once when there are enough leads."""
    stages = rng.choices(list(STAGE_WEIGHTS), list(STAGE_WEIGHTS.values()), k=count)
    if count >= len(STAGE_WEIGHTS):
        stages[: len(STAGE_WEIGHTS)] = list(STAGE_WEIGHTS)
        rng.shuffle(stages)
    return stages


def _insert(model: type[Model], rows: list[dict[str, Any]]) -> None:
    """One `executemany` INSERT of `rows` (attname -> value; missing fields take their default).

    Not `bulk_create`: it stamps `auto_now_add` fields with the insert time (the demo needs its
    own times) and its per-value compilation was most of the run time at 100,000 leads.
    """
    if not rows:
        return
    ops = connection.ops
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]

    def prepare(f: Field) -> Callable[[Any], Any]:
        if isinstance(f, DateTimeField):
            return ops.adapt_datetimefield_value
        if isinstance(f, DateField | JSONField | UUIDField):
            return lambda value: f.get_db_prep_save(value, connection)
        return lambda value: value

    preparers = [(f.attname, prepare(f), f.get_default()) for f in fields]
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608 (names from model meta, values as parameters)
    params = [[prep(row.get(name, default)) for name, prep, default in preparers] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _write_chunk(plans: list[_Plan], owner: Any, result: DemoLeadsResult) -> None:
    _insert(Lead, [p.lead for p in plans])
    pks = dict(Lead.objects.filter(public_id__in=[p.lead["public_id"] for p in plans]).values_list("public_id", "pk"))
    changes: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for plan in plans:
        lead = plan.lead
        lead_pk = pks[lead["public_id"]]
        result.leads_by_stage[lead["stage"]].append(lead_pk)
        events.append(
            {
                "lead_id": lead_pk,
                "kind": LeadEvent.Kind.CREATED,
                "label": LeadEvent.Kind.CREATED.label,
                "summary": f"Arrived from {lead['source']}",
                "data": {"source": lead["source"], "via": "demo data"},
                "at": lead["created_at"],
            }
        )
        previous: str = Stage.NEW
        for number, (to_stage, when, reason) in enumerate(plan.moves):
            by_owner = MOVED_BY[to_stage] == "owner"
            if number:
                # This move ends the stay the lead's previous one began, as the stage service records it.
                changes[-1]["left_at"] = when
                changes[-1]["seconds_in_stage"] = (when - changes[-1]["changed_at"]).total_seconds()
            changes.append(
                {
                    "lead_id": lead_pk,
                    "from_stage": previous,
                    "to_stage": to_stage,
                    "changed_by_id": owner.pk if by_owner else None,
                    "actor_label": owner.get_username() if by_owner else MOVED_BY[to_stage],
                    "reason": reason,
                    "changed_at": when,
                }
            )
            previous = to_stage
    _insert(StageChange, changes)
    _insert(LeadEvent, events)
    result.stage_changes += len(changes)


def demo_leads_create(
    *,
    count: int,
    rng: random.Random,
    now: datetime,
    owner: Any,
    on_progress: Callable[[int], None] | None = None,
) -> DemoLeadsResult:
    """Create `count` demo leads with their stage history. Call inside a transaction.

    Emails and phones already in the database are skipped, so seeding twice adds new leads
    instead of colliding with the unique constraints.
    """
    taken_emails = set(Lead.objects.exclude(email_normalized="").values_list("email_normalized", flat=True))
    taken_phones = set(Lead.objects.exclude(phone_e164="").values_list("phone_e164", flat=True))
    generator = _Generator(rng, now, taken_emails, taken_phones)
    result = DemoLeadsResult(leads_by_stage={stage: [] for stage in Stage.values})
    stages = _stages_for(count, rng)
    for start in range(0, count, CHUNK_SIZE):
        plans = [generator.plan(stage) for stage in stages[start : start + CHUNK_SIZE]]
        _write_chunk(plans, owner, result)
        if on_progress:
            on_progress(len(plans))
    return result


def demo_owner() -> Any:
    """The superuser named 'owner', created with an unusable password when missing.

    `manage.py ensure_owner` (run by `make run`) gives it a password and writes the login down.
    """
    user_model = get_user_model()
    owner = user_model.objects.filter(username=OWNER_USERNAME).first()
    if owner is None:
        owner = user_model.objects.create_superuser(username=OWNER_USERNAME, email=DEMO_OWNER_EMAIL, password=None)
    return owner


def demo_stage_times(lead_ids: list[int]) -> dict[int, dict[str, datetime]]:
    """When each lead last reached each stage, from its stage history.

    Every app's demo seeder dates its rows from these, so a lead's emails, reply, booking, call,
    proposal and payment happen in the order its stage history tells.
    """
    times: dict[int, dict[str, datetime]] = {}
    rows = StageChange.objects.filter(lead_id__in=lead_ids).order_by("changed_at", "pk")
    for lead_id, to_stage, changed_at in rows.values_list("lead_id", "to_stage", "changed_at").iterator():
        times.setdefault(lead_id, {})[to_stage] = changed_at
    return times


# --- Values, notes and next steps ----------------------------------------------------------------

DEMO_NOTES = (
    "Called, no answer. **Try again Thursday** morning.",
    "Wants a quote for the *spring* campaign.\n- budget around 5k\n- decision by end of month",
    "Met at the meetup; keen on SEO. Their site: [link](https://example.com/)",
    "Asked for case studies from similar businesses.",
    "Prefers email over phone. Partner makes the final call.",
)
DEMO_TASKS = (
    "Call back about the quote",
    "Send case studies",
    "Follow up on the proposal",
    "Check in after their launch",
    "Book the kick-off call",
)
# Deals grow further along the pipeline: (low, high) in whole currency units.
VALUE_RANGES: dict[str, tuple[int, int]] = {
    Stage.REPLIED: (1_500, 6_000),
    Stage.BOOKED: (2_000, 8_000),
    Stage.CALL_DONE: (2_500, 10_000),
    Stage.PROPOSAL_SENT: (3_000, 12_000),
    Stage.SIGNED: (3_000, 15_000),
    Stage.PAID: (3_000, 15_000),
    Stage.NURTURE: (1_000, 5_000),
}
NEXT_STEP_STAGES = (Stage.NEW, Stage.CONTACTED, Stage.REPLIED, Stage.BOOKED, Stage.CALL_DONE, Stage.PROPOSAL_SENT)


def seed_next_steps(ctx: DemoContext) -> dict[str, int]:
    """Deal values, owner notes and tasks (some overdue, some due today, some done) on demo leads."""
    rng, now, owner = ctx.rng, ctx.now, ctx.owner
    currency = site_settings().default_currency
    valued: list[Lead] = []
    for stage, (low, high) in VALUE_RANGES.items():
        for lead_pk in ctx.leads_by_stage.get(stage, []):
            if rng.random() < 0.8:
                amount = rng.randrange(low, high + 1, 250) * 100
                valued.append(Lead(pk=lead_pk, value_minor=amount, value_currency=currency))
    Lead.objects.bulk_update(valued, ["value_minor", "value_currency"], batch_size=500)

    created = dict(
        Lead.objects.filter(pk__in=[pk for ids in ctx.leads_by_stage.values() for pk in ids]).values_list(
            "pk", "created_at"
        )
    )
    notes: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for stage in NEXT_STEP_STAGES:
        for lead_pk in ctx.leads_by_stage.get(stage, []):
            arrived = created[lead_pk]
            if rng.random() < 0.4:
                written = arrived + (now - arrived) * rng.uniform(0.2, 1.0)
                body = rng.choice(DEMO_NOTES)
                notes.append({"lead_id": lead_pk, "body": body, "author_id": owner.pk, "created_at": written})
                events.append(_demo_event(lead_pk, LeadEvent.Kind.NOTE, body.splitlines()[0], written))
            if rng.random() < 0.3:
                # From five days overdue to ten days ahead; a quarter of the past ones are done.
                due = now + timedelta(hours=rng.uniform(-5 * 24, 10 * 24))
                added = min(due, now) - timedelta(days=rng.uniform(0.5, 3))
                done = due < now and rng.random() < 0.25
                title = rng.choice(DEMO_TASKS)
                tasks.append(
                    {
                        "lead_id": lead_pk,
                        "title": title,
                        "due_at": due,
                        "done_at": due if done else None,
                        "done_by_id": owner.pk if done else None,
                        "created_by_id": owner.pk,
                        "created_at": max(added, arrived),
                    }
                )
                events.append(_demo_event(lead_pk, LeadEvent.Kind.TASK_ADDED, title, max(added, arrived)))
                if done:
                    events.append(_demo_event(lead_pk, LeadEvent.Kind.TASK_DONE, title, due))
    _insert(Note, notes)
    _insert(Task, tasks)
    _insert(LeadEvent, events)
    if connection.vendor == "postgresql":
        # Fresh statistics after a bulk insert: with none, the planner turns "going cold"'s
        # anti-joins into nested loops (seconds instead of milliseconds at 20,000 leads).
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in (Lead, LeadEvent, Note, Task))
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")
    overdue = sum(1 for t in tasks if t["done_at"] is None and t["due_at"] < now)
    return {"values": len(valued), "notes": len(notes), "tasks": len(tasks), "tasks_overdue": overdue}


def _demo_event(lead_pk: int, kind: LeadEvent.Kind, summary: str, at: datetime) -> dict[str, Any]:
    return {"lead_id": lead_pk, "kind": kind.value, "label": str(kind.label), "summary": summary, "data": {}, "at": at}
