"""Login throttling (django-axes): the backend, the locked-out page and the audit entry.

Failures are counted per username *and* address, so someone guessing from one machine cannot
lock the owner out of every other one. The counts live in the database (axes' own tables), so
every web process sees the same lockout.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from clientsflow.audit import audit_record


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses a locked-out web login; a login made in code (no request: the test client's
    `login()`, a shell) is not a guess from the network and is left to the next backend."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def login_locked_out_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The login page's answer while locked: what happened and when to try again.

    Each refused try restarts the wait (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the
    account opens one cool-off after this very request.
    """
    cool_off = get_cool_off(request) or settings.AXES_COOLOFF_TIME
    context = {
        "title": "Account locked",
        "site_header": "ClientsFlow",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "retry_at": timezone.localtime(timezone.now() + cool_off),
        "cool_off_minutes": int(cool_off.total_seconds() // 60),
    }
    return render(request, "admin/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


def audit_lockout(sender: Any, request: HttpRequest, username: str, ip_address: str, **kwargs: Any) -> None:
    """Receiver for axes' `user_locked_out`: sent at the lockout and at each try refused during it."""
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    audit_record(
        verb="auth.locked_out",
        obj=user,
        actor_label=username or "unknown",
        details={
            "username": username,
            "ip_address": ip_address,
            "failures": AxesProxyHandler.get_failures(request, getattr(request, "axes_credentials", None)),
            "cool_off_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
    )
