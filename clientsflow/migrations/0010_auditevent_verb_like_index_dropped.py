"""PostgreSQL: the `_like` twin of the audit verb's index (`varchar_pattern_ops`, for
`LIKE 'prefix%'`), written with every audit row (one per lead delivered) and read by no query:
the admin filters verbs by equality and searches them by substring. The plain index stays."""

from django.db import migrations

TWIN = "clientsflow_auditevent_verb_e9e6c12c_like"


def drop_twin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{TWIN}"')


def create_twin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{TWIN}" ON "clientsflow_auditevent" ("verb" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clientsflow", "0009_auditevent_object_id_index_dropped"),
    ]

    operations = [migrations.RunPython(drop_twin, create_twin, elidable=False)]
