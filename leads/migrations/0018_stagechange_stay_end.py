"""Each stay's end on its StageChange: `left_at` (the lead's next change's time) and
`seconds_in_stage`, filled for the existing history in two set-based updates (a window function
pairs each change with the next one; SQLite 3.33+ and PostgreSQL both run UPDATE ... FROM)."""

from django.db import migrations, models

PAIR_WITH_NEXT = """
    UPDATE leads_stagechange SET left_at = following.left_at
    FROM (
        SELECT id, LEAD(changed_at) OVER (PARTITION BY lead_id ORDER BY changed_at, id) AS left_at
        FROM leads_stagechange
    ) AS following
    WHERE following.id = leads_stagechange.id AND following.left_at IS NOT NULL
"""

SECONDS = {
    "postgresql": "EXTRACT(EPOCH FROM (left_at - changed_at))",
    "sqlite": "(julianday(left_at) - julianday(changed_at)) * 86400.0",
}


def backfill_stay_ends(apps, schema_editor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(PAIR_WITH_NEXT)
        cursor.execute(
            f"UPDATE leads_stagechange SET seconds_in_stage = {SECONDS[connection.vendor]} "  # noqa: S608 (constants)
            "WHERE left_at IS NOT NULL"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0017_lead_imports"),
    ]

    operations = [
        migrations.AddField(
            model_name="stagechange",
            name="left_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="stagechange",
            name="seconds_in_stage",
            field=models.FloatField(blank=True, help_text="left_at - changed_at, in seconds.", null=True),
        ),
        migrations.RunPython(backfill_stay_ends, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="stagechange",
            index=models.Index(
                condition=models.Q(("seconds_in_stage__isnull", False)),
                fields=["to_stage", "seconds_in_stage", "changed_at", "lead"],
                name="stagechange_stay_length_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="stagechange",
            index=models.Index(fields=["lead", "changed_at", "to_stage"], name="stagechange_lead_stage_idx"),
        ),
    ]
