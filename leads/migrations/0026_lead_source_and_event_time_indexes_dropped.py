"""Two single-column indexes no query needs, each one more index written per new lead or event:

- `Lead.source`'s own index (and, on PostgreSQL, its `_like` twin): `lead_source_idx`
  (source, created_at) starts with the same column, so every filter, range and distinct on the
  source is served by it (the reports' sources list walks it), and no query matches a source by
  prefix (what the `_like` index is for).
- `LeadEvent.at`'s own index: no query reads events by time alone; a lead's timeline goes through
  the foreign key's index and the reports through `leadevent_kind_at_idx` (kind, at, lead).

Only the indexes are dropped: an AlterField would make SQLite rebuild the leads table, which drops
the triggers that keep the counters and the search index (see 0021)."""

import django.utils.timezone
from django.db import migrations, models

# The names Django gave these indexes (the same on both databases; PostgreSQL adds `_like`).
SOURCE_INDEX = "leads_lead_source_0fa8f25c"
EVENT_AT_INDEX = "leads_leadevent_at_7153758e"


def drop_indexes(apps, schema_editor):
    for name in (SOURCE_INDEX, f"{SOURCE_INDEX}_like", EVENT_AT_INDEX):
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_indexes(apps, schema_editor):
    schema_editor.execute(f'CREATE INDEX "{SOURCE_INDEX}" ON "leads_lead" ("source")')
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE INDEX "{SOURCE_INDEX}_like" ON "leads_lead" ("source" varchar_pattern_ops)')
    schema_editor.execute(f'CREATE INDEX "{EVENT_AT_INDEX}" ON "leads_leadevent" ("at")')


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0025_lead_search_stage_idx"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="lead",
                    name="source",
                    field=models.CharField(default="manual", max_length=40),
                ),
                migrations.AlterField(
                    model_name="leadevent",
                    name="at",
                    field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
