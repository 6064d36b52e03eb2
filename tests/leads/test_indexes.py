"""Every index on the tables each intake writes serves a query, named here.

Each index is one more b-tree written per lead, event or audit row: an index nobody reads only
slows intake down. A new index belongs in this list with the query it serves; an index whose
query is gone comes out of the list and the database.
"""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

INDEXES = {
    "leads_lead": {
        "unique public_id": "a lead's public pages and exports, by public id",
        "lead_unique_active_email": "one active lead per email (constraint)",
        "lead_unique_active_phone_without_email": "one active lead per phone among those without email (constraint)",
        "leads_lead_email_normalized_22ea4700": "intake's holders look-up (merged leads too), by email",
        "leads_lead_phone_e164_94a5b39d": "intake's holders look-up (merged leads too), by phone",
        "leads_lead_stage_d7dbd1fd": "leads in a stage, merged ones too (admin list filter, classification counts)",
        "leads_lead_merged_into_id_c068178b": "a survivor's merged leads; the PROTECT check when a lead is deleted",
        "lead_source_idx": "the sources list (a loose index scan) and every filter or count on the source",
        "lead_active_source_idx": "reports: arrivals per source in a date range",
        "lead_active_id_source_idx": "reports (funnel): each moved lead's source, index-only on PostgreSQL",
        "lead_stage_since_idx": "reports: how many sit in each stage and since when",
        "lead_recent_idx": "the recency bar and the Arrived filter's counts on SQLite; ranges on created_at",
        "lead_arrivals_idx": "the recency bar's counts on PostgreSQL (index-only)",
        "lead_value_idx": "the board's value totals per column",
        "lead_board_idx": "the board's newest cards per column",
        # PostgreSQL: the search's one trigram index over the joined fields, the stage in front
        # (btree_gin), so the board under a search counts each column from it.
        "lead_search_stage_trgm_idx": "search on PostgreSQL, and the board's columns under a search",
    },
    "leads_leadevent": {
        "leads_leadevent_lead_id_426caf75": "a lead's timeline",
        "leadevent_kind_at_idx": "reports: events of a kind in a range, with their lead",
    },
    "clientsflow_auditevent": {
        "audit_object_idx": "an object's audit rows (a person's export)",
        "clientsflow_auditevent_verb_e9e6c12c": "the admin's verb filter and its list of verbs",
        "clientsflow_auditevent_created_at_9a991ec7": "the admin's newest-first list and date filter",
        "clientsflow_auditevent_actor_user_id_5201908a": "SET NULL when a user is deleted",
    },
}


def _indexes(table: str) -> set[str]:
    """The table's indexes by name; a unique constraint without a name of ours as `unique <columns>`.
    Primary keys are left out (and so are `_like` twins, which the test below says none keeps)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    found = set()
    for name, info in constraints.items():
        if info["primary_key"] or not (info["index"] or info["unique"]) or name.endswith("_like"):
            continue
        if name.startswith("__unnamed") or (info["unique"] and name.endswith("_key")):
            name = "unique " + ", ".join(info["columns"])
        found.add(name)
    return found


@pytest.mark.parametrize("table", sorted(INDEXES))
def test_every_index_on_an_intake_table_serves_a_named_query(table):
    found = _indexes(table)
    expected = set(INDEXES[table])
    if connection.vendor != "postgresql":
        expected.discard("lead_search_stage_trgm_idx")  # SQLite searches an FTS5 table instead
    assert found == expected, f"not listed: {sorted(found - expected)}; listed but missing: {sorted(expected - found)}"


def test_postgresql_keeps_no_prefix_twin_of_the_dropped_indexes():
    """The `_like` twins of the dropped single-column indexes went with them (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's `_like` indexes")
    with connection.cursor() as cursor:
        names = set(connection.introspection.get_constraints(cursor, "leads_lead"))
        names |= set(connection.introspection.get_constraints(cursor, "clientsflow_auditevent"))
    assert not {"leads_lead_source_0fa8f25c_like", "clientsflow_auditevent_object_id_af912200_like"} & names


def test_postgresql_keeps_no_prefix_twin_on_an_intake_table():
    """No query on the tables intake writes matches by prefix, so none keeps a `_like` twin (one
    more b-tree entry per new lead or audit row); each plain index stays (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's `_like` indexes")
    with connection.cursor() as cursor:
        names = {name for table in INDEXES for name in connection.introspection.get_constraints(cursor, table)}
    assert sorted(name for name in names if name.endswith("_like")) == []
    assert {"leads_lead_email_normalized_22ea4700", "clientsflow_auditevent_verb_e9e6c12c"} <= names
