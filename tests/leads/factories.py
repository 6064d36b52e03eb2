from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from leads.models import Lead
from leads.staff_groups import staff_groups_sync


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
    user.groups.add(role_group(role))
    return user


def role_group(role: str) -> Group:
    """A shipped role's group. A migration creates them, but a transactional test's flush empties
    the table for every test that runs after it in the same process, so it is made again here."""
    if not Group.objects.filter(name=role).exists():
        staff_groups_sync(group_model=Group, permission_model=Permission)
    return Group.objects.get(name=role)
