"""Recomputing the board's counts (`LeadCount`) from the leads table.

Database triggers keep the counts in step with every write (see `leads.db_triggers`); this is for
repair: after restoring a backup made without them, or a bulk load with the triggers disabled.
"""

from __future__ import annotations

from django.db import connection, transaction

from clientsflow.cache import board_version_bump
from leads.db_triggers import COUNTS_FROM_LEADS_SQL
from leads.models import LeadCount


@transaction.atomic
def lead_counts_rebuild() -> int:
    """Replace every counter row by a fresh GROUP BY over the leads; returns the rows written.

    On PostgreSQL the leads table is share-locked for the duration, so no write lands between
    the delete and the recount (writers wait, readers do not).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE leads_lead IN SHARE MODE")
    LeadCount.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(COUNTS_FROM_LEADS_SQL)
    # The columns' stamps (`LeadCount.changes`) start again from the counts and may repeat values
    # that keyed cache entries before: every board entry is dropped with the board's version.
    board_version_bump()
    return LeadCount.objects.count()
