"""Indexed search on a lead's name, email, company and phone.

SQLite: an FTS5 table with the trigram tokenizer, kept by triggers (which SQLite drops if a later
migration rebuilds leads_lead: reinstall them with `leads.db_triggers.install_search`).
PostgreSQL: the pg_trgm extension and a GIN trigram index per column.
"""

from django.db import migrations

from leads.db_triggers import drop_search, install_search


def install(apps, schema_editor):
    install_search(schema_editor)


def uninstall(apps, schema_editor):
    drop_search(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0014_lead_counters"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
