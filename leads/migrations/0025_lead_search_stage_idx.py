"""PostgreSQL: the trigram index over a lead's searched fields gets the stage in front of it
(btree_gin), in place of the trigram index alone (`leads.db_triggers.SEARCH_INDEX_PG`). Searches
use it as before; the board under a search reads each stage's matches from it alone, and counts
them only up to a cap (`leads.selectors.SEARCH_COUNT_CAP`), instead of reading every match of a
common word. Still one GIN index per lead. SQLite's FTS5 table is unchanged. Building the index
reads the table once."""

from django.db import migrations

from leads.db_triggers import drop_search_stage_index, install_search_stage_index


def forwards(apps, schema_editor):
    install_search_stage_index(schema_editor)


def backwards(apps, schema_editor):
    drop_search_stage_index(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0024_lead_search_text_idx"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
