from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from leads.models import Lead


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    email_normalized = factory.LazyAttribute(lambda o: o.email.strip().lower())
    company = factory.Faker("company")
    source = "website"


def staff_user(username: str = "owner", *, role: str = "Owner", password: str = "pw-for-tests-only", **fields):  # noqa: S107
    """A staff account in one of the shipped roles ("Owner", "Assistant", "Viewer")."""
    user = get_user_model().objects.create_user(username, password=password, is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=role))
    return user
