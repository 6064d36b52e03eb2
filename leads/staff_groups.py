"""The staff roles the project ships: "Owner", "Assistant" and "Viewer".

Permissions are picked by app label and codename, never by a model import, so that the rules
still hold when models move between apps (outbound models moving to `outreach`). The functions
take the `Group` and `Permission` models as arguments so a data migration can pass its
historical ones; a later migration that adds models can call `staff_groups_sync` again to give
the roles the new permissions.
"""

from __future__ import annotations

from typing import Any

OWNER = "Owner"
ASSISTANT = "Assistant"
VIEWER = "Viewer"

# The project's own apps. Django's (users, groups, sessions) and the Beat schedule stay the
# owner's: a user who may change users may make themselves superuser.
PROJECT_APPS = ("clientsflow", "leads", "outreach", "classify", "bookings", "calls", "billing", "reports")
BILLING_APPS = ("billing",)
# Whoever holds this lets email reach a lead (the human gate); only the owner by default.
APPROVE_CODENAMES = ("approve_outboundmessage",)


def _project(permission_model: Any) -> Any:
    return permission_model.objects.filter(content_type__app_label__in=PROJECT_APPS)


def role_permissions(permission_model: Any) -> dict[str, Any]:
    """Each role's permissions as a QuerySet of `permission_model`."""
    project = _project(permission_model)
    return {
        OWNER: permission_model.objects.all(),
        ASSISTANT: project.filter(codename__regex=r"^(view|change)_")
        .exclude(codename__in=APPROVE_CODENAMES)
        .exclude(content_type__app_label__in=BILLING_APPS),
        VIEWER: project.filter(codename__startswith="view_"),
    }


def staff_groups_sync(*, group_model: Any, permission_model: Any) -> None:
    """Create the roles if missing and give each every permission its rule selects.

    Adds only: a permission the owner took away from a role by hand stays away until the
    permission is created anew.
    """
    for name, permissions in role_permissions(permission_model).items():
        group, _created = group_model.objects.get_or_create(name=name)
        group.permissions.add(*permissions)
