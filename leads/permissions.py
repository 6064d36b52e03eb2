"""The owner's pages check the same model permissions as the admin.

`view_lead` to see the board and lead pages, `change_lead` to move cards, mark leads seen and
settle possible duplicates; other apps name theirs (`bookings.change_booking` to cancel a call).
Someone who is not active staff is sent to the login page (a JSON caller gets a 403 it can show);
staff without the permission get a 403.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase

VIEW_LEAD = "leads.view_lead"
CHANGE_LEAD = "leads.change_lead"

SESSION_ENDED_MESSAGE = "Your session has ended. Log in again, then retry."
NOT_ALLOWED_MESSAGE = "Your account is not allowed to do this; ask the owner to give you the right role."


@dataclass(frozen=True)
class Granted:
    """What a user may do, for templates (`{% if "leads.change_lead" in granted %}`) and for
    keying cached HTML: users with the same permissions share the same fragments."""

    perms: frozenset[str]
    everything: bool = False

    def __contains__(self, perm: object) -> bool:
        return self.everything or perm in self.perms

    @property
    def cache_key(self) -> str:
        if self.everything:
            return "all"
        return hashlib.sha256("\n".join(sorted(self.perms)).encode()).hexdigest()[:16]


def granted_for(user: Any) -> Granted:
    if not (user.is_active and user.is_staff):
        return Granted(frozenset())
    if user.is_superuser:
        return Granted(frozenset(), everything=True)
    return Granted(frozenset(user.get_all_permissions()))


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def staff_permission_required(
    perm: str,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not (user.is_active and user.is_staff):
                if _wants_json(request):
                    return JsonResponse({"ok": False, "error": SESSION_ENDED_MESSAGE}, status=403)
                return redirect_to_login(request.get_full_path())
            if not user.has_perm(perm):
                if _wants_json(request):
                    return JsonResponse({"ok": False, "error": NOT_ALLOWED_MESSAGE}, status=403)
                raise PermissionDenied(NOT_ALLOWED_MESSAGE)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
