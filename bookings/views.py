"""The public booking page, the lead's manage page, and the owner's cancel endpoint.

Everything works without JavaScript: slots are plain links, the zone is a GET form, the booking
form a plain POST. With JavaScript the visitor's zone is detected and put in the URL (`?tz=`).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited
from django_ratelimit.decorators import ratelimit

from bookings.availability import group_by_local_day
from bookings.forms import BookingForm, CancelForm, parse_start
from bookings.links import booking_from_token, manage_path
from bookings.models import Booking, EventType
from bookings.selectors import event_type_get_public, slots_for
from bookings.services import (
    SlotHeld,
    SlotTaken,
    SlotUnavailable,
    booking_cancel,
    booking_create,
    booking_reschedule,
    hold_create,
)
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.http import HtmxHttpRequest, safe_next, wants_json
from leads.permissions import staff_permission_required

logger = logging.getLogger(__name__)

DAYS_PER_PAGE = 7
RATE_LIMITED_MESSAGE = "Too many attempts from your connection. Please wait a minute and try again."


def _rate(group: str, request: HttpRequest) -> str:
    return settings.BOOKING_RATE_LIMIT


def _zone_names() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _visitor_zone(request: HttpRequest, default: str) -> str:
    name = (request.POST.get("timezone") or request.GET.get("tz") or "").strip()
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return default
    return name if name else default


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _slot_days(
    *,
    event_type: EventType,
    zone_name: str,
    first_day: date | None,
    base_path: str,
    exclude_booking_pk: int | None = None,
) -> dict[str, Any]:
    """The slots grouped by the visitor's local day, one page of days, with paging links."""
    slots = slots_for(event_type=event_type, exclude_booking_pk=exclude_booking_pk)
    groups = group_by_local_day(slots, zone_name)
    if first_day:
        groups = [g for g in groups if g[0] >= first_day]
    page, rest = groups[:DAYS_PER_PAGE], groups[DAYS_PER_PAGE:]
    days = [
        {
            "date": day,
            "slots": [
                {
                    "label": local.strftime("%H:%M"),
                    "iso": local.isoformat(),
                    "href": f"{base_path}?{urlencode({'tz': zone_name, 'start': local.isoformat()})}",
                }
                for _slot, local in items
            ],
        }
        for day, items in page
    ]
    next_href = f"{base_path}?{urlencode({'tz': zone_name, 'from': rest[0][0].isoformat()})}" if rest else ""
    return {"days": days, "next_href": next_href, "has_slots": bool(groups)}


def _page(
    request: HttpRequest,
    event_type: EventType,
    *,
    zone_name: str,
    form: BookingForm | None = None,
    chosen: datetime | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    base_path = reverse("bookings:book", args=[event_type.slug])
    context = {
        "event_type": event_type,
        "host": event_type.host,
        "zone_name": zone_name,
        "zones": _zone_names(),
        "form": form,
        "chosen": chosen.astimezone(ZoneInfo(zone_name)) if chosen else None,
        "error": error,
        "base_path": base_path,
        "back_href": f"{base_path}?{urlencode({'tz': zone_name})}",
    }
    if form is None:
        context.update(
            _slot_days(
                event_type=event_type,
                zone_name=zone_name,
                first_day=_parse_day(request.GET.get("from")),
                base_path=base_path,
            )
        )
    return render(request, "bookings/book.html", context, status=status)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_rate, method="POST", block=False, group="bookings.book")
def book(request: HttpRequest, slug: str) -> HttpResponse:
    event_type = event_type_get_public(slug=slug)
    if event_type is None:
        raise Http404("No such booking page.")
    zone_name = _visitor_zone(request, event_type.host.timezone)
    if request.method == "POST":
        return _book_post(request, event_type, zone_name)
    if request.GET.get("start"):
        return _choose_slot(request, event_type, zone_name)
    return _page(request, event_type, zone_name=zone_name)


def _visitor_key(request: HttpRequest) -> str:
    """The visitor's session key, starting a session if they have none yet."""
    if not request.session.session_key:
        request.session.save()
        request.session.modified = True  # so the middleware sends the cookie
    return request.session.session_key or ""


def _choose_slot(request: HttpRequest, event_type: EventType, zone_name: str) -> HttpResponse:
    """A slot was picked: hold it for this visitor (releasing any other they held) and show the form.

    Someone else's hold or booking on that time is answered at once, with the other times.
    """
    try:
        start = parse_start(request.GET["start"])
    except Exception:
        return _page(
            request,
            event_type,
            zone_name=zone_name,
            error="That time could not be read. Pick a time from the list.",
            status=400,
        )
    if is_ratelimited(request, group="bookings.hold", key="ip", rate=_rate, method="GET", increment=True):
        return _page(request, event_type, zone_name=zone_name, error=RATE_LIMITED_MESSAGE, status=429)
    try:
        hold = hold_create(
            event_type=event_type,
            start=start,
            visitor_key=_visitor_key(request),
            address=request.META.get("REMOTE_ADDR") or None,
        )
    except DomainError as exc:
        status = 409 if isinstance(exc, SlotTaken | SlotHeld) else 400
        return _page(request, event_type, zone_name=zone_name, error=str(exc), status=status)
    form = BookingForm(
        initial={
            "start": start.astimezone(ZoneInfo(zone_name)).isoformat(),
            "timezone": zone_name,
            "hold": hold.token if hold else "",
        }
    )
    return _page(request, event_type, zone_name=zone_name, form=form, chosen=start)


def _book_post(request: HttpRequest, event_type: EventType, zone_name: str) -> HttpResponse:
    form = BookingForm(request.POST)
    if getattr(request, "limited", False):
        return _page(request, event_type, zone_name=zone_name, error=RATE_LIMITED_MESSAGE, status=429)
    if not form.is_valid():
        start_errors = form.errors.get("start") or form.errors.get("timezone")
        if start_errors:
            return _page(request, event_type, zone_name=zone_name, error=str(start_errors[0]), status=400)
        first = str(next(iter(form.errors.values()))[0])
        return _page(
            request,
            event_type,
            zone_name=zone_name,
            form=form,
            chosen=form.cleaned_data.get("start"),
            error=first,
            status=400,
        )
    data = form.cleaned_data
    if data["website"]:
        logger.info("booking.honeypot", extra={"event_type": event_type.slug})
        return render(request, "bookings/received.html", {"event_type": event_type})
    try:
        booking = booking_create(
            event_type=event_type,
            start=data["start"],
            timezone_name=data["timezone"],
            name=data["name"],
            email=data["email"],
            phone=data["phone"],
            note=data["note"],
            hold_token=data["hold"],
        )
    except DomainError as exc:
        if isinstance(exc, SlotTaken | SlotHeld | SlotUnavailable):
            # The slot is gone or was never valid: back to fresh slots.
            status = 409 if isinstance(exc, SlotTaken | SlotHeld) else 400
            return _page(request, event_type, zone_name=zone_name, error=str(exc), status=status)
        return _page(
            request, event_type, zone_name=zone_name, form=form, chosen=data["start"], error=str(exc), status=400
        )
    return HttpResponseRedirect(f"{manage_path(booking)}?booked=1")


# --- the lead's manage page -------------------------------------------------------------------


def _manage_context(request: HttpRequest, booking: Booking, token: str) -> dict[str, Any]:
    zone_name = _visitor_zone(request, booking.timezone)
    zone = ZoneInfo(zone_name)
    base_path = reverse("bookings:manage", args=[token])
    return {
        "booking": booking,
        "event_type": booking.event_type,
        "host": booking.host,
        "zone_name": zone_name,
        "start_local": booking.start_at.astimezone(zone),
        "end_local": booking.end_at.astimezone(zone),
        "base_path": base_path,
        "token": token,
    }


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_rate, method="POST", block=False, group="bookings.manage")
def manage(request: HttpRequest, token: str) -> HttpResponse:
    booking = booking_from_token(token)
    if booking is None:
        return render(request, "bookings/link_expired.html", status=404)
    context = _manage_context(request, booking, token)
    error = ""
    status = 200
    if request.method == "POST":
        if getattr(request, "limited", False):
            context["error"] = RATE_LIMITED_MESSAGE
            return render(request, "bookings/manage.html", context, status=429)
        action = request.POST.get("action")
        try:
            if action == "cancel":
                form = CancelForm(request.POST)
                if not form.is_valid():
                    raise DomainError(form.errors["reason"][0])
                booking_cancel(booking=booking, reason=form.cleaned_data["reason"], actor_label="lead (manage link)")
                return HttpResponseRedirect(f"{context['base_path']}?cancelled=1")
            if action == "reschedule":
                booking_reschedule(booking=booking, start=parse_start(request.POST.get("start", "")))
                return HttpResponseRedirect(f"{context['base_path']}?moved=1")
            raise DomainError("Choose whether to move or cancel the booking.")
        except DomainError as exc:
            error, status = str(exc), 409 if isinstance(exc, SlotTaken | SlotHeld) else 400
        except Exception as exc:  # parse_start raises a ValidationError
            if not hasattr(exc, "messages"):
                raise
            error, status = exc.messages[0], 400
        booking.refresh_from_db()
        context = _manage_context(request, booking, token)
    context["error"] = error
    context["flash"] = next((k for k in ("booked", "moved", "cancelled") if request.GET.get(k)), "")
    if booking.is_active and request.GET.get("start"):
        try:
            context["chosen"] = parse_start(request.GET["start"]).astimezone(ZoneInfo(context["zone_name"]))
        except Exception:
            context["error"] = "That time could not be read. Pick a time from the list."
    elif booking.is_active and request.GET.get("reschedule"):
        context.update(
            _slot_days(
                event_type=booking.event_type,
                zone_name=context["zone_name"],
                first_day=_parse_day(request.GET.get("from")),
                base_path=context["base_path"],
                exclude_booking_pk=booking.pk,
            )
        )
        context["rescheduling"] = True
    return render(request, "bookings/manage.html", context, status=status)


# --- the owner's cancel (board pill buttons, admin) -------------------------------------------


@staff_permission_required("bookings.change_booking")
@require_http_methods(["GET", "POST"])
def staff_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation with a reason field. POST: cancel through booking_cancel.

    Three answers to a POST: JSON for the board's script (`Accept: application/json`; 400 for a
    missing reason, 409 when the booking is already cancelled or over), the partial for HTMX, and
    a redirect to `next` for the plain form.
    """
    booking = get_object_or_404(Booking.objects.select_related("lead", "event_type"), pk=pk)
    zone = ZoneInfo(settings.OWNER_TIMEZONE)
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next") or "", default="")
    context: dict[str, Any] = {
        "booking": booking,
        "start_local": booking.start_at.astimezone(zone),
        "error": "",
        "next_url": next_url,
        "is_over": booking.end_at <= timezone.now(),
    }
    status = 200
    if request.method == "POST":
        form = CancelForm(request.POST)
        try:
            if not form.is_valid():
                raise InvalidInput(form.errors["reason"][0])
            booking = booking_cancel(booking=booking, reason=form.cleaned_data["reason"], actor=request.user)
            context["booking"] = booking
            context["done"] = True
        except DomainError as exc:
            context["error"] = str(exc)
            status = 400 if isinstance(exc, InvalidInput) else 409
        if wants_json(request):
            if status != 200:
                return JsonResponse({"ok": False, "error": context["error"]}, status=status)
            logger.info("booking.cancelled_from_board", extra={"booking_id": booking.pk, "lead_id": booking.lead_id})
            return JsonResponse(
                {
                    "ok": True,
                    "message": f"Call cancelled: {booking.lead} on {context['start_local']:%a %-d %b %H:%M}. "
                    "The lead is told.",
                }
            )
        if not request.htmx and status == 200:
            return HttpResponseRedirect(next_url or reverse("admin:bookings_booking_change", args=[booking.pk]))
    template = "bookings/_staff_cancel.html" if request.htmx else "bookings/staff_cancel.html"
    response = render(request, template, context, status=status)
    if context.get("done"):
        response["HX-Trigger"] = "booking-cancelled"
    return response
