"""Telling the board that what another app shows on some cards changed.

`board_cards_changed(lead_id)` is for a change that shows on those leads' cards only (a task, a
draft, a booking, a reply's label): once the transaction commits, it reads which columns the
leads are in now and bumps those leads' versions and those columns' (`clientsflow.cache`), so the
board re-renders those cards and the shells of their columns, and keeps every other card and
column cached. A change to money, or to many leads at once, bumps the whole board instead
(`board_version_bump`).
"""

from __future__ import annotations

from django.db import connection, transaction

from clientsflow.cache import board_cards_bump
from leads.models import Lead


def board_cards_changed(*lead_ids: int | None) -> None:
    """After commit: invalidate these leads' cards and the columns they are in at that moment (read
    then, so a card moved meanwhile is invalidated where it is now). At once outside a transaction."""
    touched = frozenset(lead_id for lead_id in lead_ids if lead_id)
    if not touched:
        return

    def bump() -> None:
        board_cards_bump(touched, _stages_of(touched))

    transaction.on_commit(bump)


def board_card_changed_held(lead_id: int, *, stage: str) -> None:
    """After commit: as `board_cards_changed` for one lead whose row lock the caller's transaction
    holds until it commits, with `stage` read under that lock (a booking holds the lead it booked
    for): nobody can move the lead before the commit, so its column is known and not read again."""
    touched, stages = frozenset((lead_id,)), frozenset((stage,))
    transaction.on_commit(lambda: board_cards_bump(touched, stages))


def _stages_of(lead_ids: frozenset[int]) -> frozenset[str]:
    """The leads' columns now, in one plain statement (building the ORM query cost more than
    running it: this runs after every booking's invite, task and draft)."""
    qn = connection.ops.quote_name
    sql = (
        f"SELECT {qn('stage')} FROM {qn(Lead._meta.db_table)} "  # noqa: S608
        f"WHERE {qn(Lead._meta.pk.column)} IN ({', '.join(['%s'] * len(lead_ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(lead_ids))
        return frozenset(row[0] for row in cursor.fetchall())
