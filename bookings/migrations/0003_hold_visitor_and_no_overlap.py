"""Holds are exclusive like bookings, and know whose they are.

The exclusion constraint is PostgreSQL-only (SQLite serializes the hold transaction), so like
0002 it is not part of the model state. Holds live ten minutes: the ones in the table may
overlap (that was the bug), so they are dropped before the constraint is added.
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import migrations, models
from django.db.models import F, Func

NAME = "hold_no_overlap_per_host"


def constraint() -> ExclusionConstraint:
    class BufferedRange(Func):
        function = "TSTZRANGE"
        output_field = DateTimeRangeField()

    return ExclusionConstraint(
        name=NAME,
        index_type="GIST",
        expressions=[
            (F("host"), RangeOperators.EQUAL),
            (BufferedRange("buffered_start", "buffered_end", RangeBoundary()), RangeOperators.OVERLAPS),
        ],
    )


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    apps.get_model("bookings", "Hold").objects.all().delete()
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.add_constraint(apps.get_model("bookings", "Hold"), constraint())


def remove_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.remove_constraint(apps.get_model("bookings", "Hold"), constraint())


class Migration(migrations.Migration):
    dependencies = [("bookings", "0002_booking_no_overlap")]

    operations = [
        migrations.AddField(
            model_name="hold",
            name="address",
            field=models.GenericIPAddressField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="hold",
            name="visitor_key",
            field=models.CharField(blank=True, db_index=True, help_text="The visitor's session.", max_length=64),
        ),
        migrations.RunPython(add_constraint, remove_constraint, elidable=False),
    ]
