"""Each counter row counts the writes that touched its key (`LeadCount.changes`), kept by the same
triggers in the same transaction: the board's column stamps (`leads.db_triggers`).

The triggers go first: SQLite rebuilds `leads_leadcount` to add the column, and refuses to rename
the new table into place while triggers name it."""

from django.db import migrations, models

from leads.db_triggers import drop_counter_triggers, install_counter_triggers


def drop(apps, schema_editor):
    drop_counter_triggers(schema_editor)


def install(apps, schema_editor):
    install_counter_triggers(schema_editor)


def install_before_changes(apps, schema_editor):
    install_counter_triggers(schema_editor, changes=False)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0028_lead_like_twin_indexes_dropped"),
    ]

    operations = [
        migrations.RunPython(drop, install_before_changes),
        migrations.AddField(
            model_name="leadcount",
            name="changes",
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(install, drop),
    ]
