"""The lead page's own actions: notes, tasks, inline edits and adding a lead. Thin: forms
validate, `leads` services write, `leads.next_steps` reads.

Each action answers an HTMX request with the panel it changed (and the timeline, out of band), and
a plain form post with a redirect back to the lead page and a message, so it all works without
JavaScript too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from billing.money import format_money, from_minor
from board.lead_forms import NewLeadForm, NoteForm, TaskForm, ValueForm
from board.selectors import lead_timeline
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.site import site_settings
from leads.markup import note_html
from leads.models import Lead, Task
from leads.next_steps import going_cold_leads, lead_notes, lead_tasks, owner_day_end, tasks_due
from leads.permissions import CHANGE_LEAD, VIEW_LEAD, granted_for, staff_permission_required
from leads.services.identity import emails_conflict, lead_lookalikes, normalize_email, normalize_phone
from leads.services.notes import note_add
from leads.services.owner_edits import lead_update_by_owner, lead_value_set
from leads.services.tasks import owner_zone, task_add, task_complete, task_reopen


def _is_htmx(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def _lead(public_id: Any) -> Lead:
    try:
        return Lead.objects.select_related("merged_into").get(public_id=public_id)
    except Lead.DoesNotExist:
        raise Http404("No lead with this id; it may have been deleted.") from None


def _lead_url(lead: Lead) -> str:
    return reverse("board:lead-detail", args=[lead.public_id])


def _notes(lead: Lead) -> list[tuple[Any, Any]]:
    return [(note, note_html(note.body)) for note in lead_notes(lead)]


def _task_defaults() -> dict[str, str]:
    """Tomorrow when the working day starts (Admin > Settings' working hours), on the owner's
    clock: a sensible first guess for a next step."""
    tomorrow = timezone.now().astimezone(owner_zone()).date() + timedelta(days=1)
    return {"due_date": tomorrow.isoformat(), "due_time": f"{site_settings().working_hours_start:%H:%M}"}


def lead_page_context(request: HttpRequest, lead: Lead) -> dict[str, Any]:
    """What the lead page shows from this module: notes, tasks and their forms."""
    now = timezone.now()
    return {
        "notes": _notes(lead),
        "tasks": lead_tasks(lead),
        "note_form": NoteForm(),
        "task_form": TaskForm(initial=_task_defaults()),
        "now": now,
        "day_end": owner_day_end(now),
        "owner_timezone": settings.OWNER_TIMEZONE,
        "fields": {field: _field_context(request, lead, field) for field in EDITABLE_FIELDS},
    }


def _panel(request: HttpRequest, lead: Lead, template: str, **extra: Any) -> HttpResponse:
    """The changed panel plus the timeline (out of band), for HTMX."""
    context = {**lead_page_context(request, lead), **extra, "lead": lead, "granted": granted_for(request.user)}
    html = render_to_string(template, context, request)
    html += render_to_string(
        "board/lead/_timeline.html", {"timeline": lead_timeline(lead), "oob": True, **context}, request
    )
    return HttpResponse(html)


def _form_errors(form: Any) -> str:
    return " ".join(str(message) for field_errors in form.errors.values() for message in field_errors)


def _refused(request: HttpRequest, lead: Lead, message: str) -> HttpResponse:
    messages.error(request, message)
    return HttpResponseRedirect(_lead_url(lead))


@require_POST
@staff_permission_required(CHANGE_LEAD)
def lead_note_add(request: HttpRequest, public_id: str) -> HttpResponse:
    lead = _lead(public_id)
    form = NoteForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            note_add(lead=lead, body=form.cleaned_data["body"], author=request.user)
        except DomainError as exc:
            error = str(exc)
    else:
        error = _form_errors(form) or "The note could not be read; try again."
    if _is_htmx(request):
        extra: dict[str, Any] = {"note_error": error}
        if error:
            extra["note_form"] = form
        return _panel(request, lead, "board/lead/_notes.html", **extra)
    if error:
        return _refused(request, lead, f"Note not saved: {error}")
    messages.success(request, "Note saved.")
    return HttpResponseRedirect(f"{_lead_url(lead)}#notes")


@require_POST
@staff_permission_required(CHANGE_LEAD)
def lead_task_add(request: HttpRequest, public_id: str) -> HttpResponse:
    lead = _lead(public_id)
    form = TaskForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            task_add(lead=lead, title=form.cleaned_data["title"], due_at=form.due_at, created_by=request.user)
        except DomainError as exc:
            error = str(exc)
    else:
        error = _form_errors(form)
    if _is_htmx(request):
        extra: dict[str, Any] = {"task_error": error}
        if error:
            extra["task_form"] = form
        return _panel(request, lead, "board/lead/_tasks.html", **extra)
    if error:
        return _refused(request, lead, f"Task not added: {error}")
    messages.success(request, "Task added.")
    return HttpResponseRedirect(f"{_lead_url(lead)}#tasks")


def _task_toggle(request: HttpRequest, public_id: str, pk: int, *, done: bool) -> HttpResponse:
    lead = _lead(public_id)
    try:
        task = Task.objects.get(pk=pk, lead=lead)
    except Task.DoesNotExist:
        raise Http404("No such task on this lead; reload the page.") from None
    error = ""
    try:
        if done:
            task_complete(task=task, actor=request.user)
        else:
            task_reopen(task=task, actor=request.user)
    except DomainError as exc:
        error = str(exc)
    if _is_htmx(request):
        return _panel(request, lead, "board/lead/_tasks.html", task_error=error)
    if error:
        return _refused(request, lead, error)
    messages.success(request, f"Done: {task.title}." if done else f"Reopened: {task.title}.")
    return HttpResponseRedirect(f"{_lead_url(lead)}#tasks")


@require_POST
@staff_permission_required(CHANGE_LEAD)
def lead_task_done(request: HttpRequest, public_id: str, pk: int) -> HttpResponse:
    return _task_toggle(request, public_id, pk, done=True)


@require_POST
@staff_permission_required(CHANGE_LEAD)
def lead_task_reopen(request: HttpRequest, public_id: str, pk: int) -> HttpResponse:
    return _task_toggle(request, public_id, pk, done=False)


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def next_steps(request: HttpRequest) -> HttpResponse:
    """Tasks overdue or due today, and leads going cold: where "Needs you" sends the owner."""
    now = timezone.now()
    return render(
        request,
        "board/lead/next_steps.html",
        {
            "due": list(tasks_due(now=now)[:200]),
            "cold": list(going_cold_leads(now=now)[:200]),
            "now": now,
            "owner_timezone": settings.OWNER_TIMEZONE,
        },
    )


# --- Inline edits: name, company, email, phone and the deal's value -------------------------------

EDITABLE_FIELDS: dict[str, str] = {
    "name": "Name",
    "company": "Company",
    "email": "Email",
    "phone": "Phone",
    "value": "Expected value",
}


def value_display(lead: Lead) -> str:
    if lead.value_minor is None:
        return ""
    return format_money(lead.value_minor, lead.value_currency or site_settings().default_currency)


def _field_context(request: HttpRequest, lead: Lead, field: str, **extra: Any) -> dict[str, Any]:
    edit_url = reverse("board:lead-field-edit", args=[lead.public_id, field])
    amount = ""
    if lead.value_minor is not None:
        amount = str(from_minor(lead.value_minor, lead.value_currency or site_settings().default_currency))
    return {
        "lead": lead,
        "field": field,
        "label": EDITABLE_FIELDS[field],
        "raw": getattr(lead, field, ""),
        "display": value_display(lead) if field == "value" else getattr(lead, field),
        "amount": amount,
        "currency": lead.value_currency or site_settings().default_currency,
        "edit_url": edit_url,
        "lead_url": _lead_url(lead),
        "can_edit": CHANGE_LEAD in granted_for(request.user) and not lead.merged_into_id,
        **extra,
    }


def _save_field(request: HttpRequest, lead: Lead, field: str) -> tuple[str, dict[str, str]]:
    """Save what was posted for `field`; returns (error, what to put back in the inputs)."""
    if field == "value":
        form = ValueForm(request.POST)
        typed = {"amount": request.POST.get("amount", ""), "currency": request.POST.get("currency", "")}
        if not form.is_valid():
            return _form_errors(form), typed
        try:
            lead_value_set(
                lead=lead,
                amount_minor=form.cleaned_data["amount_minor"],
                currency=form.cleaned_data["currency"],
                actor=request.user,
                by_staff=True,
            )
        except DomainError as exc:
            return str(exc), typed
        return "", {}
    value = " ".join(request.POST.get(field, "").split())
    typed = {"raw": value}
    max_length = getattr(Lead._meta.get_field(field), "max_length", None) or 200
    if len(value) > max_length:
        return f"{EDITABLE_FIELDS[field]} holds at most {max_length} characters.", typed
    if field in ("email", "phone") and not value and not (lead.phone if field == "email" else lead.email):
        return "A lead needs an email address or a phone number: keep this one, or add the other first.", typed
    if value == getattr(lead, field):
        return "", {}
    try:
        lead_update_by_owner(lead=lead, changes={field: value}, actor=request.user)
    except DomainError as exc:
        return str(exc), typed
    return "", {}


@never_cache
@staff_permission_required(CHANGE_LEAD)
def lead_field_edit(request: HttpRequest, public_id: str, field: str) -> HttpResponse:
    """Click to edit one field: GET the editor (or, with `cancel`, the field as it is), POST to save.

    HTMX swaps the field in place; without JavaScript GET is a small page with the same form and
    POST redirects back to the lead page.
    """
    if field not in EDITABLE_FIELDS:
        raise Http404("That field cannot be edited here.")
    lead = _lead(public_id)
    if lead.merged_into_id:
        return _refused(request, lead, "This lead was merged into another; edit that one.")
    htmx = _is_htmx(request)
    if request.method == "GET":
        if htmx:
            template = "board/lead/_field.html" if "cancel" in request.GET else "board/lead/_field_edit.html"
            return render(request, template, {"f": _field_context(request, lead, field)})
        return render(request, "board/lead/edit_field.html", {"f": _field_context(request, lead, field)})
    if request.method != "POST":
        return HttpResponse("Use GET or POST.", status=405)
    error, typed = _save_field(request, lead, field)
    lead.refresh_from_db()
    if error:
        context = {"f": _field_context(request, lead, field, error=error, **typed)}
        if htmx:
            return render(request, "board/lead/_field_edit.html", context)
        return render(request, "board/lead/edit_field.html", context, status=400)
    if htmx:
        context = {"f": _field_context(request, lead, field, saved=True)}
        html = render_to_string("board/lead/_field.html", context, request)
        if field in ("name", "email", "phone"):
            html += render_to_string("board/lead/_title.html", {"lead": lead, "oob": True}, request)
        return HttpResponse(html)
    messages.success(request, f"Saved: {EDITABLE_FIELDS[field].lower()} of {lead}.")
    return HttpResponseRedirect(_lead_url(lead))


# --- Adding a lead by hand ----------------------------------------------------------------------


@never_cache
@staff_permission_required(CHANGE_LEAD)
def lead_new(request: HttpRequest) -> HttpResponse:
    """A small form; before creating, an existing lead these details may belong to is offered
    ("This looks like Jane Doe — open, merge, or create anyway"). A hard duplicate (same email,
    or same phone without another email) can only be opened or merged into."""
    if request.method == "GET":
        return render(
            request,
            "board/lead/new.html",
            {"form": NewLeadForm(), "default_currency": site_settings().default_currency},
        )
    if request.method != "POST":
        return HttpResponse("Use GET or POST.", status=405)
    form = NewLeadForm(request.POST)
    if not form.is_valid():
        return render(request, "board/lead/new.html", {"form": form}, status=400)
    details = form.contact_changes()
    try:
        email_normalized = normalize_email(details["email"])
    except InvalidInput as exc:
        form.add_error("email", str(exc))
    try:
        phone_e164 = normalize_phone(details["phone"])
    except InvalidInput as exc:
        form.add_error("phone", str(exc))
    if form.errors:
        return render(request, "board/lead/new.html", {"form": form}, status=400)
    matches = lead_lookalikes(
        name=details["name"], company=details["company"], email_normalized=email_normalized, phone_e164=phone_e164
    )
    offers = [
        (match, not emails_conflict(email_normalized, match.lead.email_normalized)) for match in matches
    ]  # (lookalike, whether "merge" can put these details on it)
    decision = request.POST.get("decision", "")
    amount_minor, currency = form.cleaned_data["amount_minor"], form.cleaned_data["currency"]
    if decision.startswith("merge:"):
        into = next((m.lead for m, can in offers if can and str(m.lead.public_id) == decision[6:]), None)
        if into is None:
            form.add_error(None, "That lead is no longer a match for these details; check them and try again.")
        else:
            return _merge_details_into(request, into, details, amount_minor, currency)
    elif not matches or (decision == "create" and not any(m.hard for m in matches)):
        try:
            lead = _create_lead(request, details, amount_minor, currency)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Added {lead}.")
            return HttpResponseRedirect(_lead_url(lead))
    status = 400 if form.errors else 200
    return render(
        request,
        "board/lead/new.html",
        {"form": form, "offers": offers, "hard": any(m.hard for m in matches)},
        status=status,
    )


@transaction.atomic
def _create_lead(request: HttpRequest, details: dict[str, str], amount_minor: int | None, currency: str) -> Lead:
    lead = lead_update_by_owner(lead=None, changes=details, actor=request.user)
    if amount_minor is not None:
        lead_value_set(lead=lead, amount_minor=amount_minor, currency=currency, actor=request.user, by_staff=True)
    return lead


def _merge_details_into(
    request: HttpRequest, into: Lead, details: dict[str, str], amount_minor: int | None, currency: str
) -> HttpResponse:
    """ "Merge": what was typed fills the existing lead's empty fields (its own are kept)."""
    changes = {name: value for name, value in details.items() if value and not getattr(into, name)}
    try:
        with transaction.atomic():
            if changes:
                lead_update_by_owner(lead=into, changes=changes, actor=request.user)
            if amount_minor is not None and into.value_minor is None:
                lead_value_set(
                    lead=into, amount_minor=amount_minor, currency=currency, actor=request.user, by_staff=True
                )
                changes["value"] = "set"
    except DomainError as exc:
        messages.error(request, f"Nothing changed: {exc}")
        return HttpResponseRedirect(_lead_url(into))
    added = ", ".join(name for name in changes) or "nothing new (it already had these details)"
    messages.success(request, f"Merged into {into}: added {added}.")
    return HttpResponseRedirect(_lead_url(into))
