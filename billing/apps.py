from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing import webhooks  # noqa: F401  (registers the Stripe webhook handler)
        from billing.models import Payment, Proposal
        from leads.services.merge import MOVABLE_RELATIONS

        # A merged duplicate's proposals and payments follow it to the survivor. Registered from
        # here so that leads never imports billing's models.
        for entry in (("proposals", Proposal, "lead"), ("payments", Payment, "lead")):
            if entry not in MOVABLE_RELATIONS:
                MOVABLE_RELATIONS.append(entry)
