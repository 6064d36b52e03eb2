"""The outreach models, taking over the tables `leads` created (state only: no table is touched).

Each model keeps its `leads_*` table, so every row stays where it was. `leads` forgets the
models in its 0006 migration; 0002 here moves their content types (and so their permissions,
and every user's and group's grants) from `leads` to `outreach`.
"""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("leads", "0005_billing_timeline_kinds"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ImapCursor",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "mailbox",
                            models.CharField(help_text="user@host/folder (no password).", max_length=255, unique=True),
                        ),
                        ("uidvalidity", models.BigIntegerField(default=0)),
                        ("last_uid", models.BigIntegerField(default=0)),
                        ("polled_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "leads_imapcursor",
                    },
                ),
                migrations.CreateModel(
                    name="Sequence",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("name", models.CharField(max_length=120, unique=True)),
                        ("description", models.TextField(blank=True)),
                        (
                            "is_active",
                            models.BooleanField(
                                default=True, help_text="Inactive sequences draft nothing and enroll no one."
                            ),
                        ),
                    ],
                    options={
                        "db_table": "leads_sequence",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="Suppression",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("email_hash", models.CharField(max_length=64, unique=True)),
                        ("reason", models.CharField(max_length=64)),
                        ("actor_label", models.CharField(max_length=100)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "leads_suppression",
                        "ordering": ["-created_at"],
                    },
                ),
                migrations.CreateModel(
                    name="Enrollment",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("active", "Active"),
                                    ("paused", "Paused"),
                                    ("stopped", "Stopped"),
                                    ("completed", "Completed"),
                                ],
                                db_index=True,
                                default="active",
                                max_length=16,
                            ),
                        ),
                        ("next_step", models.PositiveSmallIntegerField(default=1)),
                        ("next_due_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                        ("stop_reason", models.CharField(blank=True, max_length=255)),
                        ("stopped_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "enrolled_by",
                            models.CharField(help_text="The person, or what enrolled the lead.", max_length=100),
                        ),
                        (
                            "lead",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="enrollments", to="leads.lead"
                            ),
                        ),
                        (
                            "sequence",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="enrollments",
                                to="outreach.sequence",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "leads_enrollment",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="SequenceStep",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "position",
                            models.PositiveSmallIntegerField(help_text="1 for the first email, 2 for the next..."),
                        ),
                        (
                            "delay_hours",
                            models.PositiveIntegerField(
                                default=0,
                                help_text="Hours after the previous step was sent (after enrollment for the first step).",
                            ),
                        ),
                        (
                            "intent",
                            models.CharField(
                                blank=True,
                                help_text="What this email should achieve, for the drafting model.",
                                max_length=500,
                            ),
                        ),
                        (
                            "subject_template",
                            models.CharField(
                                help_text="Variables: {{ lead.first_name }}, {{ lead.name }}, {{ lead.company }}.",
                                max_length=255,
                            ),
                        ),
                        ("body_template", models.TextField()),
                        (
                            "sequence",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="steps",
                                to="outreach.sequence",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "leads_sequencestep",
                        "ordering": ["sequence", "position"],
                    },
                ),
                migrations.CreateModel(
                    name="OutboundMessage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("sequence", "Sequence step"),
                                    ("proposal", "Proposal"),
                                    ("one_off", "One-off"),
                                ],
                                default="sequence",
                                max_length=16,
                            ),
                        ),
                        ("to_email", models.CharField(max_length=254)),
                        ("subject", models.CharField(max_length=255)),
                        ("body", models.TextField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("draft", "Draft: awaiting approval"),
                                    ("approved", "Approved"),
                                    ("sending", "Sending"),
                                    ("sent", "Sent"),
                                    ("failed", "Failed: not sent"),
                                    ("unknown", "Unknown: may have been sent"),
                                    ("rejected", "Rejected"),
                                    ("blocked", "Blocked"),
                                ],
                                db_index=True,
                                default="draft",
                                max_length=16,
                            ),
                        ),
                        (
                            "origin",
                            models.CharField(
                                help_text="Who wrote the copy: 'template', 'anthropic:<model>:<prompt version>', ...",
                                max_length=120,
                            ),
                        ),
                        (
                            "send_after",
                            models.DateTimeField(
                                blank=True, help_text="Not sent automatically before this time.", null=True
                            ),
                        ),
                        ("approved_at", models.DateTimeField(blank=True, null=True)),
                        ("approved_hash", models.CharField(blank=True, editable=False, max_length=64)),
                        ("rejected_reason", models.CharField(blank=True, max_length=255)),
                        ("block_reason", models.CharField(blank=True, max_length=255)),
                        ("message_id", models.CharField(editable=False, max_length=255, unique=True)),
                        ("in_reply_to", models.CharField(blank=True, editable=False, max_length=998)),
                        ("references", models.TextField(blank=True, editable=False)),
                        ("claimed_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        ("send_attempts", models.PositiveIntegerField(default=0, editable=False)),
                        ("sent_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                        ("provider_message_id", models.CharField(blank=True, max_length=255)),
                        ("last_error", models.CharField(blank=True, max_length=500)),
                        (
                            "approved_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "enrollment",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="messages",
                                to="outreach.enrollment",
                            ),
                        ),
                        (
                            "lead",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="outbound_messages",
                                to="leads.lead",
                            ),
                        ),
                        (
                            "rejected_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "step",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="outreach.sequencestep",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "leads_outboundmessage",
                        "ordering": ["-created_at", "-id"],
                        "permissions": [("approve_outboundmessage", "Can approve and send outbound messages")],
                    },
                ),
                migrations.CreateModel(
                    name="InboundReply",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("webhook", "Inbound webhook"),
                                    ("imap", "IMAP poll"),
                                    ("manual", "Entered by hand"),
                                    ("demo", "Demo data"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("from_email", models.CharField(max_length=254)),
                        ("from_email_normalized", models.CharField(db_index=True, max_length=254)),
                        ("to_email", models.CharField(blank=True, max_length=254)),
                        ("subject", models.CharField(blank=True, max_length=998)),
                        ("body", models.TextField(blank=True)),
                        ("message_id", models.CharField(blank=True, max_length=998)),
                        ("in_reply_to", models.CharField(blank=True, max_length=998)),
                        ("references", models.TextField(blank=True)),
                        (
                            "matched_by",
                            models.CharField(
                                choices=[
                                    ("in_reply_to", "In-Reply-To header"),
                                    ("references", "References header"),
                                    ("sender", "Sender address"),
                                    ("human", "Matched by a person"),
                                    ("unmatched", "Unmatched"),
                                ],
                                default="unmatched",
                                max_length=16,
                            ),
                        ),
                        ("received_at", models.DateTimeField(db_index=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "lead",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="replies",
                                to="leads.lead",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "leads_inboundreply",
                        "ordering": ["-received_at", "-id"],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("message_id", ""), _negated=True),
                                fields=("message_id",),
                                name="inboundreply_unique_message_id",
                            )
                        ],
                    },
                ),
                migrations.AddIndex(
                    model_name="enrollment",
                    index=models.Index(fields=["status", "next_due_at"], name="enrollment_due_idx"),
                ),
                migrations.AddConstraint(
                    model_name="sequencestep",
                    constraint=models.UniqueConstraint(
                        fields=("sequence", "position"), name="sequencestep_unique_position"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="sequencestep",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("position__gte", 1)), name="sequencestep_position_positive"
                    ),
                ),
                migrations.AddIndex(
                    model_name="outboundmessage",
                    index=models.Index(fields=["status", "send_after"], name="outbound_status_idx"),
                ),
                migrations.AddIndex(
                    model_name="outboundmessage",
                    index=models.Index(fields=["lead", "status"], name="outbound_lead_status_idx"),
                ),
                migrations.AddConstraint(
                    model_name="outboundmessage",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("status__in", ["approved", "sending", "sent", "unknown"]), _negated=True),
                            models.Q(
                                models.Q(("approved_hash", ""), _negated=True),
                                ("approved_by__isnull", False),
                                ("approved_at__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="outbound_approval_required",
                    ),
                ),
            ],
        ),
    ]
