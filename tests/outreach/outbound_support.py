"""Fixtures and factories for the outbound tests (imported by name by each test module)."""

from __future__ import annotations

from typing import Any

import factory
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from outreach.models import Enrollment, OutboundMessage, Sequence, SequenceStep
from outreach.services.review import outbound_approve, outbound_draft_create
from tests.leads.factories import LeadFactory


class SequenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sequence

    name = factory.Sequence(lambda n: f"Cold follow-up {n}")


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SequenceStep

    sequence = factory.SubFactory(SequenceFactory)
    position = factory.Sequence(lambda n: n + 1)
    delay_hours = 0
    intent = "Introduce the agency and ask for a call."
    subject_template = "Quick question for {{ lead.company }}"
    body_template = "Hi {{ lead.first_name }},\n\nWould a 15-minute call next week make sense?"


def make_user(username: str, *, approve: bool, superuser: bool = False) -> Any:
    user = get_user_model().objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    if superuser:
        user.is_superuser = True
        user.save()
    perms = Permission.objects.filter(content_type__app_label="outreach", content_type__model="outboundmessage")
    codenames = ["view_outboundmessage", "change_outboundmessage"] + (["approve_outboundmessage"] if approve else [])
    user.user_permissions.add(*perms.filter(codename__in=codenames))
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def approver() -> Any:
    return make_user("owner", approve=True)


@pytest.fixture
def assistant() -> Any:
    return make_user("assistant", approve=False)


@pytest.fixture
def open_window(settings: Any) -> Any:
    """Every hour of every day is inside the send window; a generous cap."""
    settings.OUTBOUND_SEND_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    settings.OUTBOUND_SEND_HOURS = "0-24"
    settings.OUTBOUND_DAILY_CAP = 100
    settings.SEND_ALLOWLIST = []
    settings.DEFAULT_FROM_EMAIL = "Agency Owner <owner@agency.example>"
    settings.PUBLIC_BASE_URL = "https://crm.agency.example"
    return settings


def make_draft(lead: Any = None, **kwargs: Any) -> OutboundMessage:
    lead = lead or LeadFactory()
    return outbound_draft_create(
        lead=lead,
        subject=kwargs.pop("subject", "Quick question"),
        body=kwargs.pop("body", "Hi there,\n\nWould a short call make sense?"),
        origin=kwargs.pop("origin", "template"),
        **kwargs,
    )


def make_approved(approver: Any, lead: Any = None, **kwargs: Any) -> OutboundMessage:
    draft = make_draft(lead, **kwargs)
    return outbound_approve(message=draft, actor=approver, expected_hash=draft.content_hash())


def make_enrollment(lead: Any = None, steps: int = 2) -> Enrollment:
    sequence = SequenceFactory()
    for position in range(1, steps + 1):
        StepFactory(sequence=sequence, position=position, delay_hours=0 if position == 1 else 48)
    lead = lead or LeadFactory()
    from outreach.services.sequences import enrollment_create

    return enrollment_create(lead=lead, sequence=sequence, actor_label="test")
