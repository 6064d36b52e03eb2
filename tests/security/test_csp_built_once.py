"""The CSP header built once from the settings is the header django-csp itself builds."""

from __future__ import annotations

from dataclasses import asdict

from csp.constants import NONE, SELF
from csp.decorators import csp_update
from csp.middleware import PolicyParts
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from clientsflow.middleware import ContentSecurityPolicyMiddleware


def _answer(path: str, view=None) -> HttpResponse:
    middleware = ContentSecurityPolicyMiddleware(view or (lambda request: HttpResponse("ok")))
    return middleware(RequestFactory().get(path))


def test_the_built_once_header_is_django_csps_own_for_pages_and_the_admin(settings):
    expected = build_policy(**asdict(PolicyParts()))
    expected_admin = build_policy(**asdict(PolicyParts(update=settings.CSP_ADMIN_UPDATE)))

    for _ in range(2):  # built, then reused
        assert _answer("/webhooks/leads/website/")["Content-Security-Policy"] == expected
        assert _answer("/board/")["Content-Security-Policy"] == expected
        assert _answer("/admin/")["Content-Security-Policy"] == expected_admin
    assert "'unsafe-inline'" in expected_admin and "'unsafe-inline'" not in expected
    assert "Content-Security-Policy-Report-Only" not in _answer("/board/")


def test_a_changed_setting_is_used_at_once():
    _answer("/board/")  # the header built from the settings as they were
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": [NONE]}}):
        assert _answer("/board/")["Content-Security-Policy"] == "default-src 'none'"
    assert "default-src 'self'" in _answer("/board/")["Content-Security-Policy"]


def test_a_views_own_policy_and_exemptions_still_win():
    @csp_update({"img-src": ["https://images.example"]})
    def with_images(request):
        return HttpResponse("ok")

    def exempt(request):
        response = HttpResponse("ok")
        response._csp_exempt = True
        return response

    def own_header(request):
        response = HttpResponse("ok")
        response["Content-Security-Policy"] = f"default-src {SELF}"
        return response

    assert "https://images.example" in _answer("/board/", with_images)["Content-Security-Policy"]
    assert "https://images.example" not in _answer("/board/")["Content-Security-Policy"]
    assert "Content-Security-Policy" not in _answer("/board/", exempt)
    assert _answer("/board/", own_header)["Content-Security-Policy"] == "default-src 'self'"
