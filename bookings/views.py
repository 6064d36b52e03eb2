"""The public booking page, the lead's manage page, and the owner's cancel endpoint.

Everything works without JavaScript: slots are plain links, the zone is a GET form, the booking
form a plain POST. With JavaScript the visitor's zone is detected and put in the URL (`?tz=`).
"""

from __future__ import annotations

import calendar
import logging
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited
from django_ratelimit.decorators import ratelimit

from bookings.availability import group_by_local_day
from bookings.forms import BookingForm, CancelForm, LeadCancelForm, parse_start
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
from bookings.services.booking import validate_timezone
from bookings.timezones import canonical_zone, zone_label, zone_options_html
from clientsflow.branding import public_branding
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.http import HtmxHttpRequest, safe_next, wants_json
from leads.permissions import staff_permission_required

logger = logging.getLogger(__name__)

RATE_LIMITED_MESSAGE = "Too many attempts from your connection. Please wait a minute and try again."
UNKNOWN_ZONE_NOTICE = "We do not know the time zone “{name}”. Times are shown in {used}; pick your zone from the list."


def _rate(group: str, request: HttpRequest) -> str:
    return settings.BOOKING_RATE_LIMIT


def _visitor_zone(request: HttpRequest, default: str) -> tuple[str, str]:
    """The zone to show times in, and a notice when the visitor asked for one we do not know."""
    name = (request.POST.get("timezone") or request.GET.get("tz") or "").strip()
    if not name:
        return default, ""
    try:
        return canonical_zone(validate_timezone(name)), ""
    except DomainError:
        return default, UNKNOWN_ZONE_NOTICE.format(name=name[:64], used=default)


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _parse_month(value: str | None) -> date | None:
    try:
        return date.fromisoformat(f"{value}-01") if value else None
    except ValueError:
        return None


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _href(base_path: str, **params: str) -> str:
    return f"{base_path}?{urlencode({k: v for k, v in params.items() if v})}"


def _picker(
    *,
    event_type: EventType,
    zone_name: str,
    base_path: str,
    query: Any,
    extra: dict[str, str] | None = None,
    exclude_booking_pk: int | None = None,
) -> dict[str, Any]:
    """A month calendar with the days that have free times, and the chosen day's times.

    `?month=YYYY-MM` picks the month, `?day=YYYY-MM-DD` the day; without them the first month
    and day with a free time. Every link keeps the zone (and `extra`, e.g. `reschedule=1`).
    """
    extra = extra or {}
    slots = slots_for(event_type=event_type, exclude_booking_pk=exclude_booking_pk)
    by_day = dict(group_by_local_day(slots, zone_name))
    today = timezone.now().astimezone(ZoneInfo(zone_name)).date()
    first_month = today.replace(day=1)
    last_month = (today + timedelta(days=event_type.days_ahead + 1)).replace(day=1)
    chosen_day = _parse_day(query.get("day"))
    month = _parse_month(query.get("month")) or (chosen_day.replace(day=1) if chosen_day else None)
    if month is None:
        month = min(by_day).replace(day=1) if by_day else first_month
    month = min(max(month, first_month), last_month)
    in_month = [d for d in by_day if (d.year, d.month) == (month.year, month.month)]
    if chosen_day not in in_month:
        chosen_day = in_month[0] if in_month else None

    def link(**params: str) -> str:
        return _href(base_path, tz=zone_name, **extra, **params)

    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        cells = []
        for day in week:
            count = len(by_day.get(day, [])) if day.month == month.month else 0
            cells.append(
                {
                    "date": day,
                    "in_month": day.month == month.month,
                    "count": count,
                    "chosen": day == chosen_day,
                    "today": day == today,
                    "href": link(month=f"{month:%Y-%m}", day=day.isoformat()) if count else "",
                }
            )
        weeks.append(cells)
    times = [
        {
            "label": local.strftime("%H:%M"),
            "iso": local.isoformat(),
            "href": link(start=local.isoformat()),
        }
        for _slot, local in (by_day.get(chosen_day, []) if chosen_day else [])
    ]
    later = [d for d in by_day if d > (_add_months(month, 1) - timedelta(days=1))]
    return {
        "month": month,
        "weeks": weeks,
        "weekday_names": [(calendar.day_abbr[i], calendar.day_name[i]) for i in range(7)],
        "chosen_day": chosen_day,
        "times": times,
        "has_slots": bool(by_day),
        "month_has_slots": bool(in_month),
        "prev_href": link(month=f"{_add_months(month, -1):%Y-%m}") if month > first_month else "",
        "next_href": link(month=f"{_add_months(month, 1):%Y-%m}") if month < last_month else "",
        "next_free_href": link(month=f"{later[0]:%Y-%m}", day=later[0].isoformat()) if later and not in_month else "",
    }


def _zone_context(zone_name: str) -> dict[str, Any]:
    return {
        "zone_name": zone_name,
        "zone_label": zone_label(zone_name),
        "zone_options": zone_options_html(zone_name),
    }


def _page(
    request: HttpRequest,
    event_type: EventType,
    *,
    zone_name: str,
    form: BookingForm | None = None,
    chosen: datetime | None = None,
    error: str = "",
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    base_path = reverse("bookings:book", args=[event_type.slug])
    context = {
        "event_type": event_type,
        "brand": public_branding(host_name=event_type.host.name, title=event_type.title),
        **_zone_context(zone_name),
        "form": form,
        "form_errors": _error_summary(form) if form is not None and form.is_bound else [],
        "chosen": chosen.astimezone(ZoneInfo(zone_name)) if chosen else None,
        "error": error,
        "notice": notice,
        "base_path": base_path,
        "back_href": _href(base_path, tz=zone_name, day=chosen.astimezone(ZoneInfo(zone_name)).date().isoformat())
        if chosen
        else _href(base_path, tz=zone_name),
    }
    if form is None:
        context.update(_picker(event_type=event_type, zone_name=zone_name, base_path=base_path, query=request.GET))
        if getattr(request, "htmx", False):
            return render(request, "bookings/_picker.html", context, status=status)
    return render(request, "bookings/book.html", context, status=status)


def _error_summary(form: BookingForm) -> list[dict[str, str]]:
    """Every invalid visible field with its message and the id to jump to, in the form's order."""
    summary = []
    for field in form.visible_fields():
        if field.errors:
            field.field.widget.attrs.update({"aria-invalid": "true", "aria-describedby": f"{field.id_for_label}-error"})
        for message in field.errors:
            summary.append({"id": field.id_for_label, "label": str(field.label), "message": str(message)})
    return summary


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_rate, method="POST", block=False, group="bookings.book")
def book(request: HttpRequest, slug: str) -> HttpResponse:
    event_type = event_type_get_public(slug=slug)
    if event_type is None:
        raise Http404("No such booking page.")
    zone_name, notice = _visitor_zone(request, event_type.host.timezone)
    if request.method == "POST":
        return _book_post(request, event_type, zone_name)
    if request.GET.get("start"):
        return _choose_slot(request, event_type, zone_name)
    return _page(request, event_type, zone_name=zone_name, notice=notice)


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
        # Every invalid field is listed in the summary at the top of the form.
        return _page(
            request, event_type, zone_name=zone_name, form=form, chosen=form.cleaned_data.get("start"), status=400
        )
    data = form.cleaned_data
    if data["website"]:
        logger.info("booking.honeypot", extra={"event_type": event_type.slug})
        return render(request, "bookings/received.html", {"event_type": event_type, "brand": public_branding()})
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
    zone_name, _notice = _visitor_zone(request, booking.timezone)
    zone = ZoneInfo(zone_name)
    base_path = reverse("bookings:manage", args=[token])
    return {
        "booking": booking,
        "event_type": booking.event_type,
        "brand": public_branding(host_name=booking.host.name, title=booking.event_type.title),
        "zone_name": zone_name,
        "start_local": booking.start_at.astimezone(zone),
        "end_local": booking.end_at.astimezone(zone),
        "base_path": base_path,
        "token": token,
        "book_again_href": _href(reverse("bookings:book", args=[booking.event_type.slug]), tz=zone_name),
        "reschedule_href": _href(base_path, tz=zone_name, reschedule="1"),
    }


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_rate, method="POST", block=False, group="bookings.manage")
def manage(request: HttpRequest, token: str) -> HttpResponse:
    booking = booking_from_token(token)
    if booking is None:
        return render(request, "bookings/link_expired.html", {"brand": public_branding()}, status=404)
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
                form = LeadCancelForm(request.POST)
                if not form.is_valid():
                    raise DomainError(form.errors["reason"][0])
                booking_cancel(
                    booking=booking,
                    reason=form.cleaned_data["reason"],
                    actor_label="lead (manage link)",
                )
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
        context.update(_zone_context(context["zone_name"]))
        context.update(
            _picker(
                event_type=booking.event_type,
                zone_name=context["zone_name"],
                base_path=context["base_path"],
                query=request.GET,
                extra={"reschedule": "1"},
                exclude_booking_pk=booking.pk,
            )
        )
        context["rescheduling"] = True
        if getattr(request, "htmx", False):
            return render(request, "bookings/_picker.html", context, status=status)
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
