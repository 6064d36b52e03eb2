"""The message storage is made on first use, and a message still reaches the next page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import empty

from clientsflow.middleware import LazyMessageMiddleware


def _through_middleware(view, cookies: dict[str, str] | None = None):
    request = RequestFactory().get("/board/")
    request.COOKIES.update(cookies or {})
    response = SessionMiddleware(LazyMessageMiddleware(view))(request)
    return request, response


def test_a_message_added_is_stored_and_read_on_the_next_request(db):
    def adds(request):
        messages.success(request, "Lead moved to Won.")
        return HttpResponse("ok")

    seen: list[str] = []

    def reads(request):
        seen.extend(str(message) for message in messages.get_messages(request))
        return HttpResponse("ok")

    _request, response = _through_middleware(adds)
    assert "messages" in response.cookies
    _through_middleware(reads, {"messages": response.cookies["messages"].value})

    assert seen == ["Lead moved to Won."]


def test_a_request_that_never_uses_messages_never_builds_the_storage(db):
    request, response = _through_middleware(lambda request: HttpResponse("ok"))

    assert request.__dict__["_messages"]._wrapped is empty  # never made
    assert "messages" not in response.cookies
