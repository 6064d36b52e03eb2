"""The insert triggers of leads_lead (board counts, SQLite's search index) learn to stand aside for
a bulk insert that counts and indexes its rows at once (`leads.db_triggers.lead_bulk_insert`).
Every other write is counted and indexed row by row as before."""

from django.db import migrations

from leads.db_triggers import install_bulk_insert_switch


def install(apps, schema_editor):
    install_bulk_insert_switch(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0021_lead_arrivals_idx"),
    ]

    # Backwards: the new triggers behave as the old ones whenever the switch is off.
    operations = [
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
