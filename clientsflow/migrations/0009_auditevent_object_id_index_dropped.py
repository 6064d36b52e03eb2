"""`AuditEvent.object_id`'s own index (and, on PostgreSQL, its `_like` twin) is dropped: an
object's rows are found by type and id, which `audit_object_idx` (object_type, object_id) serves,
and the admin's search is a substring match that no index serves. Intake writes an audit row per
delivery, so each index here is one more written per delivery.

Only the indexes are dropped (an AlterField would rebuild the table on SQLite to change nothing else)."""

from django.db import migrations, models

INDEX = "clientsflow_auditevent_object_id_af912200"  # the name Django gave it (PostgreSQL adds `_like`)


def drop_indexes(apps, schema_editor):
    for name in (INDEX, f"{INDEX}_like"):
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_indexes(apps, schema_editor):
    schema_editor.execute(f'CREATE INDEX "{INDEX}" ON "clientsflow_auditevent" ("object_id")')
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX "{INDEX}_like" ON "clientsflow_auditevent" ("object_id" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clientsflow", "0008_notification_outcome_unknown_and_dismissed"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="object_id",
                    field=models.CharField(blank=True, max_length=64, verbose_name="object ID"),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
