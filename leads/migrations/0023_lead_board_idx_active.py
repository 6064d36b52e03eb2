"""`lead_board_idx` holds the active leads only (merged_into IS NULL), as the board's card queries
ask. PostgreSQL's planner otherwise served each column's newest cards from `lead_arrivals_idx`
(already partial on that predicate) scanned backwards and filtered on stage: on a freshly
vacuumed table, and for a stage whose leads are all old that reads most of the table. The partial
board index answers each column with an index-only range scan. Same number of indexes to write.

Index operations only: SQLite does not rebuild the table (which would drop its triggers)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0022_lead_bulk_insert_switch"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="lead", name="lead_board_idx"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", True)),
                fields=["stage", "-created_at", "-id"],
                name="lead_board_idx",
            ),
        ),
    ]
