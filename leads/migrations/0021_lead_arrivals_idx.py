"""Lead.created_at's own index makes way for `lead_arrivals_idx`, the active leads' arrival times:
PostgreSQL's planner took the plain index for the recency bar's counts and visited the table for
`merged_into`; the partial one answers them index-only. Every other range or ordering on
created_at is served by `lead_recent_idx`, which starts with it. Same number of indexes to write.

Only the index is dropped: an AlterField would make SQLite rebuild the table, which drops the
triggers that keep the counters and the search index."""

from django.db import migrations, models

# The name Django gave the index of `created_at = DateTimeField(db_index=True)` (same on both databases).
INDEX = "leads_lead_created_at_a7f0123f"


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0020_report_indexes_funnel_outreach"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="lead",
                    name="created_at",
                    field=models.DateTimeField(auto_now_add=True),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "leads_lead" ("created_at")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", True)), fields=["created_at"], name="lead_arrivals_idx"
            ),
        ),
    ]
