"""Suppression entries stored as an unsalted SHA-256 are rehashed under the key where we still hold
the address; the rest keep matching as they are."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from outreach.models import Suppression
from outreach.services.suppression import email_hash, is_suppressed

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("outreach", "0003_inboundreply_sender_verified")]


def _migrate(targets):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    # Every other app stays at its latest: the state the database is in.
    others = [leaf for leaf in executor.loader.graph.leaf_nodes() if leaf[0] != "outreach"]
    return MigrationExecutor(connection).loader.project_state(targets + others).apps


def test_legacy_entries_are_rehashed_where_the_address_is_still_held():
    old = _migrate(BEFORE)
    try:
        old.get_model("leads", "Lead").objects.create(
            name="Held", email="Held@Client.example", email_normalized="held@client.example", source="website"
        )
        entries = old.get_model("outreach", "Suppression").objects
        for address in ("held@client.example", "gone@client.example"):
            entries.create(email_hash=hashlib.sha256(address.encode()).hexdigest(), reason="x", actor_label="x")
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    stored = set(Suppression.objects.values_list("email_hash", flat=True))
    assert stored == {email_hash("held@client.example"), hashlib.sha256(b"gone@client.example").hexdigest()}
    assert is_suppressed("held@client.example") and is_suppressed("gone@client.example")
