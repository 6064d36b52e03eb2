"""Normalizing contact details and finding the lead they belong to."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connections, router
from django.db.models import Q
from rapidfuzz import fuzz

from clientsflow.errors import InvalidInput
from clientsflow.prepared import server_prepared_cursor
from leads.models import Lead


def normalize_email(raw: str | None) -> str:
    """Trimmed, Unicode NFC and lower-cased; '' when absent. Raises InvalidInput when not an
    address.

    Internationalised addresses (`zoë@exämple.de`, RFC 6531) are kept in Unicode, the one form
    stored and compared (never mixed with the domain's punycode). Django's validator checks the
    domain (it tries its IDNA form) but only ASCII local parts, so a non-ASCII local part is
    checked with its non-ASCII letters standing in as ASCII ones.
    """
    value = unicodedata.normalize("NFC", (raw or "").strip()).lower()
    if not value:
        return ""
    if len(value) <= MAX_EMAIL_LENGTH and _PLAIN_EMAIL.fullmatch(value):
        return value
    local, at, domain = value.rpartition("@")
    checked = value
    if at and not local.isascii():
        if not all(ch.isalnum() or ch.isascii() for ch in local):
            raise InvalidInput(f"{raw!r} is not a valid email address.")
        checked = "".join(ch if ch.isascii() else "x" for ch in local) + "@" + domain
    try:
        validate_email(checked)
    except ValidationError:
        raise InvalidInput(f"{raw!r} is not a valid email address.") from None
    return value


# The everyday address (ASCII letters, digits, "._+-" before the @, then dot-separated host labels
# and a TLD of letters) is one Django's `validate_email` accepts: its dot-atom local part and its
# host, label and TLD patterns each take these. Checked with this one pattern, at a fraction of the
# validator's cost; tests/leads/test_email_fast_path.py compares the two. Anything else goes
# through the validator.
MAX_EMAIL_LENGTH = 320  # the validator's own limit (RFC 3696 section 3)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@{_LABEL}(?:\.{_LABEL})*\.[a-z]{{2,63}}")


def normalize_phone(raw: str | None, region: str | None = None) -> str:
    """E.164 (`+14155550134`); '' when absent. Raises InvalidInput when not a phone number."""
    value = (raw or "").strip()
    if not value:
        return ""
    region = region or settings.PHONE_DEFAULT_REGION
    fast = _nanp_e164(value, region)
    if fast:
        return fast
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{raw!r} is not a phone number.") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"{raw!r} is not a possible phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# The North American Numbering Plan: +1, then a ten-digit number whose area code and exchange
# start with 2-9. Written with only spaces, dots, dashes and parentheses, such a number is what
# phonenumbers would make of it (parse, is_possible_number, E.164), at a fraction of the cost;
# tests/leads/test_phone_fast_path.py compares the two. Anything else goes to phonenumbers.
_NANP_FORMATTING = str.maketrans("", "", " ().-")
_NANP_INTERNATIONAL = re.compile(r"\+1[2-9]\d{2}[2-9]\d{6}")
_NANP_NATIONAL = re.compile(r"[2-9]\d{2}[2-9]\d{6}")
NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])


def _nanp_e164(value: str, region: str) -> str:
    compact = value.translate(_NANP_FORMATTING)
    if _NANP_INTERNATIONAL.fullmatch(compact):
        return compact
    if region in NANP_REGIONS and _NANP_NATIONAL.fullmatch(compact):
        return "+1" + compact
    return ""


def emails_conflict(a: str, b: str) -> bool:
    """Two different addresses are two people, whatever else (a phone) they share."""
    return bool(a) and bool(b) and a != b


def _active(lead: Lead | None) -> Lead | None:
    """Follow merges to the lead that absorbed this one."""
    seen = 0
    while lead is not None and lead.merged_into_id is not None and seen < 10:
        lead = lead.merged_into
        seen += 1
    return lead


# More leads than this on one phone is a switchboard, not a person: look no further.
MAX_PHONE_HOLDERS = 20


@dataclass
class Identity:
    """Whose details these are: `lead` (matched on `matched_on`), or nobody's yet.

    `shares_phone_with` lists the active leads that have this phone under another email: other
    people as far as we can tell, each a *possible duplicate* for a human to judge.
    """

    lead: Lead | None
    matched_on: str = ""
    shares_phone_with: list[Lead] = field(default_factory=list)


def lead_identify(*, email_normalized: str, phone_e164: str, for_update: bool = False) -> Identity:
    """The one rule every intake path follows to decide whose details these are.

    Exact normalized email first. Then E.164 phone, but only with a lead whose email does not
    conflict (one side has none, or they are equal): two emails are two people. A merged lead's
    details lead to its survivor. With `for_update`, the lead found is locked.

    One round trip: the leads holding the email or the phone come back in one query, the email's
    holders first (then active leads first, as the two separate look-ups used to order them).
    """
    if not email_normalized and not phone_e164:
        return Identity(lead=None)
    rows = _holders(email_normalized, phone_e164, for_update)
    if rows and email_normalized and rows[0].email_normalized == email_normalized:
        match = rows[0]
        return Identity(lead=_locked(_active(match), match, for_update), matched_on="email")
    if not phone_e164:
        return Identity(lead=None)
    others: dict[int, Lead] = {}
    for match in rows:
        active = _active(match)
        if active is None or active.pk in others:
            continue
        if not emails_conflict(active.email_normalized, email_normalized):
            return Identity(lead=_locked(active, match, for_update), matched_on="phone")
        if active.phone_e164 == phone_e164:
            others[active.pk] = active
    return Identity(lead=None, shares_phone_with=list(others.values()))


# SQL text per (database alias, has email, has phone, for update); built from the model's own
# table and column names, so each call only pays for the round trip, not for compiling a queryset.
_HOLDERS_SQL: dict[tuple[str, bool, bool, bool], str] = {}


def _holders_sql(alias: str, has_email: bool, has_phone: bool, for_update: bool) -> str:
    key = (alias, has_email, has_phone, for_update)
    sql = _HOLDERS_SQL.get(key)
    if sql is not None:
        return sql
    connection = connections[alias]
    qn = connection.ops.quote_name
    meta = Lead._meta
    columns = ", ".join(qn(f.column) for f in meta.concrete_fields)
    column = {f.name: qn(f.column) for f in meta.concrete_fields}
    email, merged = column["email_normalized"], column["merged_into"]
    # Email holders first; then active (not merged) first, then by survivor and id: the order
    # `F("merged_into_id").asc(nulls_first=True), "id"` gave the separate look-ups.
    order = [f"CASE WHEN {email} = %s THEN 0 ELSE 1 END"] if has_email else []
    order += [f"CASE WHEN {merged} IS NULL THEN 0 ELSE 1 END", merged, qn(meta.pk.column)]
    # Only quoted model identifiers and a constant go into the text; values are parameters.
    sql = (
        f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {_holders_where(connection, has_email, has_phone)} "  # noqa: S608
        f"ORDER BY {', '.join(order)} LIMIT {MAX_PHONE_HOLDERS}"
    )
    if for_update and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    _HOLDERS_SQL[key] = sql
    return sql


def _holders_where(connection: Any, has_email: bool, has_phone: bool) -> str:
    """The condition on the email (first parameter) and the phone (next) that the holders meet."""
    qn = connection.ops.quote_name
    column = {f.name: qn(f.column) for f in Lead._meta.concrete_fields}
    where = [f"{column['email_normalized']} = %s"] if has_email else []
    where += [f"{column['phone_e164']} = %s"] if has_phone else []
    return " OR ".join(where)


_CONVERTERS: dict[str, list[tuple[int, Any, list[Any]]]] = {}


def _converters(alias: str) -> list[tuple[int, Any, list[Any]]]:
    """What the ORM applies to each column read from this database (dates, UUIDs, JSON)."""
    if alias not in _CONVERTERS:
        connection = connections[alias]
        found = []
        for i, model_field in enumerate(Lead._meta.concrete_fields):
            col = model_field.get_col(Lead._meta.db_table)
            funcs = [*connection.ops.get_db_converters(col), *model_field.get_db_converters(connection)]  # type: ignore[attr-defined]  # on Field, missing from django-stubs
            if funcs:
                found.append((i, model_field, funcs))
        _CONVERTERS[alias] = found
    return _CONVERTERS[alias]


def _leads_from_rows(alias: str, raw_rows: list[tuple[Any, ...]]) -> list[Lead]:
    names = [f.attname for f in Lead._meta.concrete_fields]
    connection = connections[alias]
    converters = _converters(alias)
    leads = []
    for raw in raw_rows:
        values = list(raw)
        for i, model_field, funcs in converters:
            for func in funcs:
                values[i] = func(values[i], model_field, connection)
        leads.append(Lead.from_db(alias, names, values))
    return leads


def leads_holding(*, emails: set[str], phones: set[str]) -> list[Lead]:
    """Every lead (merged ones too) holding one of these normalized emails or E.164 phones, in one
    query: the set-based form of the look-up `lead_identify` makes for one person."""
    if not emails and not phones:
        return []
    alias = router.db_for_read(Lead)
    connection = connections[alias]
    qn = connection.ops.quote_name
    meta = Lead._meta
    column = {f.name: qn(f.column) for f in meta.concrete_fields}
    # Each set is one parameter (an array, or a JSON list on SQLite): a chunk of an import brings
    # thousands, which as one placeholder each would make a long statement to send and parse.
    one_of = "= ANY(%s)" if connection.vendor == "postgresql" else "IN (SELECT value FROM json_each(%s))"
    where, params = [], []
    for name, values in (("email_normalized", emails), ("phone_e164", phones)):
        if values:
            where.append(f"{column[name]} {one_of}")
            params.append(sorted(values) if connection.vendor == "postgresql" else json.dumps(sorted(values)))
    columns = ", ".join(column[f.name] for f in meta.concrete_fields)
    sql = f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {' OR '.join(where)}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _leads_from_rows(alias, cursor.fetchall())


def _holders(email_normalized: str, phone_e164: str, for_update: bool) -> list[Lead]:
    """The leads (merged ones too) holding this email or phone: email holders first, at most
    MAX_PHONE_HOLDERS (the first is enough when the email matched)."""
    alias = router.db_for_write(Lead) if for_update else router.db_for_read(Lead)
    sql = _holders_sql(alias, bool(email_normalized), bool(phone_e164), for_update)
    params = [v for v in (email_normalized, phone_e164) if v]
    if email_normalized:
        params.append(email_normalized)
    connection = connections[alias]
    # Every delivery of a known person reads this: on PostgreSQL planned once per connection.
    opened = server_prepared_cursor(connection) if connection.vendor == "postgresql" else connection.cursor()
    with opened as cursor:
        cursor.execute(sql, params)
        return _leads_from_rows(alias, cursor.fetchall())


def lead_holders(*, email_normalized: str, phone_e164: str) -> list[Lead]:
    """The leads (merged ones too) holding this email or phone, as `lead_identify` reads them
    (email holders first), unlocked: for a write that checks again what it read (one of them given)."""
    return _holders(email_normalized, phone_e164, False)


def lead_holders_query(*, email_normalized: str, phone_e164: str, using: str) -> tuple[str, list[str]]:
    """A query (text and parameters) that finds a row exactly when some lead, merged ones too,
    holds this email or this phone (one of them given): when it finds none, `lead_identify`
    answers a new person with no possible duplicates. For a write that must happen only then,
    checked in the same statement."""
    connection = connections[using]
    where = _holders_where(connection, bool(email_normalized), bool(phone_e164))
    table = connection.ops.quote_name(Lead._meta.db_table)
    return f"SELECT 1 FROM {table} WHERE {where}", [v for v in (email_normalized, phone_e164) if v]  # noqa: S608


def _locked(active: Lead | None, match: Lead, for_update: bool) -> Lead | None:
    if for_update and active is not None and active.pk != match.pk:
        return Lead.objects.select_for_update().get(pk=active.pk)
    return active


def lead_find_duplicate(*, email_normalized: str, phone_e164: str, for_update: bool = False) -> tuple[Lead | None, str]:
    """The existing lead these details belong to and what matched (`email`, `phone` or '').

    See `lead_identify` for the rule.
    """
    identity = lead_identify(email_normalized=email_normalized, phone_e164=phone_e164, for_update=for_update)
    return identity.lead, identity.matched_on


# How alike two names (and two companies) must be, 0-100 (rapidfuzz's token_sort_ratio), before
# a new lead is offered as possibly the same person as an existing one.
LOOKALIKE_MIN_SCORE = 85
LOOKALIKE_CANDIDATES = 200


@dataclass
class Lookalike:
    lead: Lead
    reason: str  # "same email", "same phone", "similar name and company"
    hard: bool  # True: these details already belong to `lead`; creating another is refused


def lead_lookalikes(*, name: str, company: str, email_normalized: str, phone_e164: str) -> list[Lookalike]:
    """Existing active leads a person about to add a lead by hand should see first.

    The identity rule (`lead_identify`) decides hard duplicates (same email, or same phone without
    a conflicting email). Softer matches are offered, not enforced: the same phone under another
    email, or a very similar name at a very similar company (both given).
    """
    identity = lead_identify(email_normalized=email_normalized, phone_e164=phone_e164)
    if identity.lead is not None:
        return [Lookalike(identity.lead, f"same {identity.matched_on}", hard=True)]
    found = [Lookalike(lead, "same phone", hard=False) for lead in identity.shares_phone_with]
    name, company = " ".join(name.split()), " ".join(company.split())
    if name and company:
        words = [w for w in name.split() if len(w) >= 2]
        query = Q()
        for word in words:
            query |= Q(name__icontains=word)
        seen = {match.lead.pk for match in found}
        candidates = Lead.objects.filter(query, merged_into__isnull=True).exclude(company="")
        for lead in candidates.order_by("-created_at")[:LOOKALIKE_CANDIDATES]:
            if lead.pk in seen:
                continue
            name_score = fuzz.token_sort_ratio(name.lower(), lead.name.lower())
            company_score = fuzz.token_sort_ratio(company.lower(), lead.company.lower())
            if name_score >= LOOKALIKE_MIN_SCORE and company_score >= LOOKALIKE_MIN_SCORE:
                found.append(Lookalike(lead, "similar name and company", hard=False))
    return found
