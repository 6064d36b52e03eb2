"""PostgreSQL: one trigram index over a lead's searched fields joined by a space
(`leads.db_triggers.SEARCH_TEXT_PG`) instead of one per column. A search word, or each of its typo
variants, is then one index lookup rather than four; an insert writes one GIN index instead of
four. SQLite's FTS5 table is unchanged. Building the index reads the table once."""

from django.db import migrations

from leads.db_triggers import drop_search_text_index, install_search_text_index


def forwards(apps, schema_editor):
    install_search_text_index(schema_editor)


def backwards(apps, schema_editor):
    drop_search_text_index(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0023_lead_board_idx_active"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
