"""Reply classification: one `Classification` per inbound reply, prompt versions, promotion decisions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from clientsflow.models import TimeStampedModel


class Label(models.TextChoices):
    POSITIVE = "positive", "Positive (wants to talk)"
    NEGATIVE = "negative", "Negative (declines)"
    NEUTRAL = "neutral", "Neutral (auto-reply, wrong person, not now)"


class Backend(models.TextChoices):
    LOCAL = "local", "Local model"
    ANTHROPIC = "anthropic", "Anthropic"


class PromptVersion(TimeStampedModel):
    """The instructions given to the Anthropic backend; exactly one champion is used in production."""

    class Status(models.TextChoices):
        CHAMPION = "champion", "Champion (in use)"
        CHALLENGER = "challenger", "Challenger"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=100, unique=True)
    system_prompt = models.TextField(help_text="Fixed instructions (sent with prompt caching).")
    model = models.CharField(max_length=100, blank=True, help_text="Anthropic model; blank = the setting's default.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHALLENGER, db_index=True)
    eval_accuracy = models.FloatField(null=True, blank=True)
    eval_fn_rate = models.FloatField(
        verbose_name="missed-negative rate",
        null=True,
        blank=True,
        help_text="Share of positive replies labelled negative on the frozen test set.",
    )
    eval_examples = models.PositiveIntegerField(null=True, blank=True)
    eval_dataset_sha256 = models.CharField(verbose_name="eval set fingerprint (SHA-256)", max_length=64, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="champion"), name="promptversion_one_champion"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"


class PromotionDecision(models.Model):
    """Every champion/challenger comparison, promoted or refused, with the figures behind it."""

    class Kind(models.TextChoices):
        PROMPT = "prompt", "Anthropic prompt"
        LOCAL_MODEL = "local_model", "Local model"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    candidate = models.CharField(max_length=100, help_text="Prompt name or local model version.")
    prompt_version = models.ForeignKey(
        PromptVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    champion = models.CharField(max_length=100, blank=True, help_text="What was champion at the time.")
    candidate_accuracy = models.FloatField()
    candidate_fn_rate = models.FloatField()
    champion_accuracy = models.FloatField(null=True, blank=True)
    champion_fn_rate = models.FloatField(null=True, blank=True)
    dataset = models.CharField(max_length=255)
    dataset_sha256 = models.CharField(verbose_name="eval set fingerprint (SHA-256)", max_length=64)
    examples = models.PositiveIntegerField()
    promoted = models.BooleanField()
    reason = models.CharField(max_length=500)
    decided_by = models.CharField(max_length=100)
    decided_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.candidate}: {'promoted' if self.promoted else 'kept champion'}"


class Classification(TimeStampedModel):
    """What a reply means, how sure we are, what the policy did, and what a person decided."""

    class PolicyAction(models.TextChoices):
        NONE = "none", "Nothing to do"
        MOVED_TO_LOST = "moved_to_lost", "Lead moved to Lost"
        LOST_SKIPPED = "lost_skipped", "Not moved to Lost (see note)"
        QUEUED = "queued", "Waiting for review"

    reply = models.OneToOneField("outreach.InboundReply", on_delete=models.CASCADE, related_name="classification")
    label = models.CharField(max_length=16, choices=Label.choices, db_index=True)
    confidence = models.FloatField()
    backend = models.CharField(max_length=16, choices=Backend.choices)
    prompt_version = models.ForeignKey(
        PromptVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="classifications"
    )
    model_version = models.CharField(max_length=100, blank=True, help_text="Local model version or Anthropic model.")
    rationale = models.CharField(max_length=500, blank=True)
    local_label = models.CharField(max_length=16, choices=Label.choices, blank=True)
    local_confidence = models.FloatField(null=True, blank=True)
    unsubscribe_intent = models.BooleanField(verbose_name="asks to stop email", default=False)
    needs_review = models.BooleanField(default=False, db_index=True)
    review_reason = models.CharField(verbose_name="why it needs review", max_length=255, blank=True)
    final_label = models.CharField(verbose_name="label after review", max_length=16, choices=Label.choices, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    policy_action = models.CharField(
        verbose_name="what happened next", max_length=16, choices=PolicyAction.choices, default=PolicyAction.NONE
    )
    policy_note = models.CharField(max_length=255, blank=True)
    suppressed_at = models.DateTimeField(verbose_name="unsubscribed at", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(label__in=Label.values), name="classification_label_valid"),
            models.CheckConstraint(
                condition=Q(final_label="") | Q(final_label__in=Label.values), name="classification_final_label_valid"
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="classification_confidence_range"
            ),
        ]
        indexes = [
            models.Index(fields=["needs_review", "-created_at"], name="classification_queue_idx"),
            # Reports: each reply's label (outreach), and whether it was routed to review, reviewed
            # and corrected (classification), found from the index alone.
            models.Index(
                fields=["reply", "label", "final_label", "needs_review", "reviewed_at", "review_reason"],
                name="classification_reply_label_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.effective_label} ({self.confidence:.0%}, {self.backend})"

    @property
    def effective_label(self) -> str:
        """The human's label when there is one, else the classifier's."""
        return self.final_label or self.label


class ClassificationChange(models.Model):
    """A label change: by a reviewer, or by a backfill with a newer champion."""

    class Cause(models.TextChoices):
        REVIEW = "review", "Reviewed by a person"
        BACKFILL = "backfill", "Re-classified (backfill)"

    classification = models.ForeignKey(Classification, on_delete=models.CASCADE, related_name="changes")
    cause = models.CharField(max_length=16, choices=Cause.choices)
    from_label = models.CharField(max_length=16, choices=Label.choices)
    to_label = models.CharField(max_length=16, choices=Label.choices)
    from_version = models.CharField(max_length=100, blank=True)
    to_version = models.CharField(max_length=100, blank=True)
    actor_label = models.CharField(max_length=100)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_label} → {self.to_label} ({self.get_cause_display()})"
