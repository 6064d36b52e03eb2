"""Hand the outbound models to the `outreach` app (state only: their tables and rows stay).

`outreach.0001_initial` declares the same models on the same `leads_*` tables; here `leads`
stops declaring them. Models that point at others are forgotten first.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0007_staff_groups"),
        ("outreach", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="OutboundMessage"),
                migrations.DeleteModel(name="Enrollment"),
                migrations.DeleteModel(name="SequenceStep"),
                migrations.DeleteModel(name="Sequence"),
                migrations.DeleteModel(name="InboundReply"),
                migrations.DeleteModel(name="Suppression"),
                migrations.DeleteModel(name="ImapCursor"),
            ],
        ),
    ]
