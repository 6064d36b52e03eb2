"""No double booking, enforced by PostgreSQL: an exclusion constraint over (host, buffered range).

Only on PostgreSQL (SQLite serializes the booking transaction instead, see bookings.models), so
the constraint is not part of the model state: these operations touch the database only.
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import migrations
from django.db.models import F, Func, Q

NAME = "booking_no_overlap_per_host"


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
        condition=Q(status__in=["confirmed", "rescheduled"]),
    )


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.add_constraint(apps.get_model("bookings", "Booking"), constraint())


def remove_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.remove_constraint(apps.get_model("bookings", "Booking"), constraint())


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [migrations.RunPython(add_constraint, remove_constraint, elidable=False)]
