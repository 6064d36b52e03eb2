"""Structural proof of the webhook intake's cost: statements per delivery, constant and few.

A signed lead delivery through the whole stack (every middleware, the view, the inbox and
`lead_intake`) in embedded mode stores the event and processes it in one transaction: no
savepoint on the way that succeeds, one look-up for the duplicate check, the timeline and audit
rows written with the lead (one round trip on PostgreSQL). On PostgreSQL a new person is one
statement in all (the event, the lead, its timeline event and audit row, written only if no lead
holds the details: its own transaction, no BEGIN or COMMIT); anything else tries that statement,
which writes nothing, then takes the transaction. Counted with real transactions
(`transaction=True`), so BEGIN and COMMIT are what a server would send.
"""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clientsflow.models import AuditEvent, WebhookEvent
from clientsflow.signatures import hmac_sha256_hex
from leads.models import Lead, LeadEvent

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "test-lead-webhook-secret-queries"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.LEAD_WEBHOOK_SECRET = SECRET


def deliver(client, payload: dict) -> list[str]:
    """Post one signed delivery; the statements it ran, in order."""
    body = json.dumps(payload).encode()
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/webhooks/leads/website/",
            data=body,
            content_type="application/json",
            headers={"X-Signature": "sha256=" + hmac_sha256_hex(SECRET, body)},
        )
    assert response.status_code == 200, response.content
    return [query["sql"] for query in captured.captured_queries]


def kinds(statements: list[str]) -> list[str]:
    """Each statement as its verb and table, e.g. `INSERT leads_lead`; the tables written by one
    execute (several statements, or one data-modifying WITH, on PostgreSQL) joined with `+`."""
    out = []
    for sql in statements:
        inserted = re.findall(r'INSERT INTO "(\w+)"', sql)
        words = sql.replace('"', "").split()
        verb = words[0].upper()
        if inserted:
            updated = [f"UPDATE {words[1]}"] if verb == "UPDATE" else []  # sent before the INSERTs
            updated += [f"UPDATE {table}" for table in re.findall(r'AS \(UPDATE "(\w+)"', sql)]
            updated += [
                f"LOCK {table}" for table in re.findall(r'AS \(SELECT [^)]* FROM "(\w+)" [^)]*FOR UPDATE\)', sql)
            ]
            out.append(" + ".join([*updated, *(f"INSERT {table}" for table in inserted)]))
        elif verb == "SELECT":
            out.append(f"SELECT {words[words.index('FROM') + 1]}")
        elif verb == "UPDATE":
            out.append(f"UPDATE {words[1]}")
        else:
            out.append(verb)  # BEGIN (IMMEDIATE on SQLite), COMMIT
    return out


def written_together(*tables: str, updated: str = "") -> list[str]:
    """Rows of these tables (after an UPDATE of `updated`): one execute on PostgreSQL, one
    statement each on SQLite (in-process)."""
    statements = [f"UPDATE {updated}"] if updated else []
    statements += [f"INSERT {table}" for table in tables]
    if connection.vendor == "postgresql":
        return [" + ".join(statements)]
    return statements


# PostgreSQL's one statement for a new person (`lead_intake_with_row`); it writes nothing otherwise.
NEW_PERSON_AT_ONCE = (
    "INSERT clientsflow_webhookevent + INSERT leads_lead + INSERT leads_leadevent + INSERT clientsflow_auditevent"
)


def tried_at_once() -> list[str]:
    """What a delivery that is not a new person sends first: the one statement, writing nothing."""
    return [NEW_PERSON_AT_ONCE] if connection.vendor == "postgresql" else []


# PostgreSQL's one statement for a repeat that adds nothing to its lead (`_repeat_with_row`),
# after the look-up of the lead: the lead's UPDATE (its payload id) and the rows, or nothing.
REPEAT_AT_ONCE = (
    "UPDATE leads_lead + INSERT clientsflow_webhookevent + INSERT leads_leadevent + INSERT clientsflow_auditevent"
)


def new_lead_statements() -> list[str]:
    if connection.vendor == "postgresql":
        return [NEW_PERSON_AT_ONCE]
    return [
        "BEGIN",
        "INSERT clientsflow_webhookevent",
        "SELECT leads_lead",
        # The lead, its timeline event and its audit row (on PostgreSQL one WITH statement).
        *written_together("leads_lead", "leads_leadevent", "clientsflow_auditevent"),
        "COMMIT",
    ]


def test_a_new_lead_costs_one_transaction_of_few_statements_whatever_the_table_holds(client):
    first = deliver(client, {"id": "q-1", "name": "Ada One", "email": "ada@example.com", "phone": "415 555 0101"})
    for n in range(2, 60):
        deliver(client, {"id": f"q-{n}", "name": f"Lead {n}", "email": f"lead{n}@example.com"})
    later = deliver(client, {"id": "q-60", "name": "Bo Later", "email": "bo@example.com", "phone": "415 555 0160"})

    assert kinds(first) == new_lead_statements()
    assert kinds(later) == kinds(first)
    assert not any("SAVEPOINT" in sql for sql in first + later)
    # What the statements wrote: the lead, its timeline event and audit row, the processed event.
    lead = Lead.objects.get(email_normalized="bo@example.com")
    assert LeadEvent.objects.filter(lead=lead, kind="created").count() == 1
    assert AuditEvent.objects.filter(verb="lead.created", object_id=str(lead.pk)).count() == 1
    assert WebhookEvent.objects.get(event_id="q-60").status == "processed"


def test_a_repeat_costs_the_same_few_statements_and_a_replay_fewer(client):
    deliver(client, {"id": "r-1", "name": "Cy Repeat", "email": "cy@example.com", "company": "Acme"})

    repeat = deliver(client, {"id": "r-2", "name": "Cy Repeat", "email": "CY@example.com", "company": "Acme"})
    replay = deliver(client, {"id": "r-2", "name": "Cy Repeat", "email": "CY@example.com", "company": "Acme"})

    # The repeat's payload id becomes the lead's external id for this source: one UPDATE, sent
    # with the timeline and audit rows (one round trip on PostgreSQL, where the repeat of a lead
    # it adds nothing to is one statement with the inbox's row, after one look-up, no transaction).
    if connection.vendor == "postgresql":
        assert kinds(repeat) == [*tried_at_once(), "SELECT leads_lead", REPEAT_AT_ONCE]
    else:
        assert kinds(repeat) == [
            "BEGIN",
            "INSERT clientsflow_webhookevent",
            "SELECT leads_lead",
            *written_together("leads_leadevent", "clientsflow_auditevent", updated="leads_lead"),
            "COMMIT",
        ]
    # A replay runs no handler: the inbox counts the delivery, nothing else is written (on
    # PostgreSQL the repeat's statement is refused by the inbox's unique key first).
    assert kinds(replay) == [
        *tried_at_once(),
        # (Its payload id is the lead's already: nothing to UPDATE, the lead's row only locked.)
        *(["SELECT leads_lead", REPEAT_AT_ONCE.replace("UPDATE", "LOCK")] if connection.vendor == "postgresql" else []),
        "BEGIN",
        "INSERT clientsflow_webhookevent",
        "UPDATE clientsflow_webhookevent",
        "SELECT clientsflow_webhookevent",
        "COMMIT",
    ]
    assert Lead.objects.count() == 1
    assert LeadEvent.objects.count() == 2  # created, then the repeat's
    assert WebhookEvent.objects.get(event_id="r-2").deliveries == 2
