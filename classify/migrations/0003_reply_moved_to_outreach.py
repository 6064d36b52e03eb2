"""Point `Classification.reply` at the reply's new app (state only: the table did not move)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("classify", "0002_builtin_prompt"),
        ("outreach", "0001_initial"),
    ]

    # Before `leads` forgets InboundReply, or the state would hold a relation to nothing.
    run_before = [("leads", "0008_move_outreach_to_outreach_app")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="classification",
                    name="reply",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="classification",
                        to="outreach.inboundreply",
                    ),
                ),
            ],
        ),
    ]
