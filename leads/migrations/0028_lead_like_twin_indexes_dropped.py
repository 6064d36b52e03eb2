"""PostgreSQL: the `_like` twins of the three indexed text columns of a lead, written on every new
lead and read by no query.

Django gives each indexed text column on PostgreSQL a second index in `varchar_pattern_ops`, for
`LIKE 'prefix%'`. No query matches an email, a phone or a stage by prefix (the admin's searches
are substring matches no b-tree serves); equality uses the plain index beside it. Each is one
more b-tree entry (and WAL record) per new lead, inside the one statement a webhook delivery
commits. The fields keep `db_index`: the plain indexes stay, and Django drops a `_like` index with
`IF EXISTS` should a field ever change.
"""

from django.db import migrations

TWINS = {
    "leads_lead_email_normalized_22ea4700_like": "email_normalized",
    "leads_lead_phone_e164_94a5b39d_like": "phone_e164",
    "leads_lead_stage_d7dbd1fd_like": "stage",
}


def drop_twins(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TWINS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_twins(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in TWINS.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "leads_lead" ("{column}" varchar_pattern_ops)')


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0027_stagechange_lead_fk_index_dropped"),
    ]

    operations = [migrations.RunPython(drop_twins, create_twins, elidable=False)]
