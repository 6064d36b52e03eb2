"""CSV lead import (`manage.py import_leads FILE`): the same dedup as every other intake path.

Header mapping
--------------
The first row is the header. Column names are matched case-insensitively, ignoring spaces,
dashes, underscores and dots ("E-mail", "email_address" and "Email Address" are the same):

    name         name, full name, contact name, lead name
    first name   first name, firstname, given name        (joined with last name when no name column)
    last name    last name, lastname, surname, family name
    email        email, e-mail, email address, mail
    phone        phone, phone number, telephone, tel, mobile, mobile phone, cell, cell phone
    company      company, company name, organization, organisation, business, account
    source       source, lead source                      (else --source, else "csv")
    external id  external id, id, contact id, lead id, crm id

The admin's import lets a person choose the field of each column instead (`mapping`, see
`HeaderMap.from_mapping`); the defaults it offers are these names (`header_fields`).

A file needs an email column or a phone column (or both); every row needs a valid email or phone.
Other columns are ignored (and named in the summary). Two columns meaning the same field are
refused, so a value is never picked silently.

Rows
----
Row numbers count the header as row 1 and every line a spreadsheet would show, blank ones
included. Blank rows (or rows of empty cells) are skipped. UTF-8 with or without a BOM, else
Windows-1252; the delimiter (, ; tab or |) is detected from the header line.
A row that cannot be imported goes to the rejects file (default `FILE.rejects.csv`): its row
number, the reason in plain English, then the row as it was.

Dedup and idempotency
---------------------
Every row follows `lead_intake`'s rules: exact normalized email, then E.164 phone when the
emails do not conflict (a phone shared with another email is a new lead and a possible
duplicate); a duplicate only fills the existing lead's empty fields, and what differs is noted
on its timeline ("also seen as"). For speed, rows are
read in chunks of 5,000 and the chunk's emails and phones are looked up in one query:

- details no lead and no earlier row of the chunk has -> created in bulk, first (one insert per
  chunk for leads, events, audit);
- details some lead or an earlier row of the chunk has -> after those, in file order: the lead
  is found with `lead_find_duplicate`, and the row
  goes through `lead_intake` itself unless it is "unchanged": it would change nothing, or this
  very row (same source and details, whatever the file) was already taken in for that lead.
  Each imported row leaves its fingerprint at the end of its timeline event's `via`
  ("csv leads.csv row 7 #<fingerprint>"), which is how a re-run recognizes it. Re-importing a
  file therefore creates no leads, events or audit rows the second time, even when two of its
  rows describe one person differently (the second is noted as "also seen as" once).

The unique constraints on email (and on phone among leads without an email) guard the bulk path: if another process created one
of the chunk's leads meanwhile, the chunk's new rows go through `lead_intake` one by one.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.text import slugify

from clientsflow.cache import board_version_bump
from clientsflow.csvfiles import csv_writer
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.models import AuditEvent
from clientsflow.prepared import insert_columns, instance_from
from leads.db_triggers import lead_bulk_insert
from leads.models import SOURCE_RE, Lead, LeadEvent
from leads.services.identity import emails_conflict, lead_find_duplicate, leads_holding
from leads.services.intake import LeadData, also_seen_pending, enrich_in_memory, lead_intake
from leads.services.timeline import SUMMARY_MAX_LENGTH

logger = logging.getLogger(__name__)

# Rows per transaction: each commit writes every index page its rows touched (SQLite's log grows
# by that much, and a checkpoint writes it again), so fewer, larger chunks write about half as much
# as chunks of 1,000; at import speed a chunk still holds SQLite's one write lock for well under a
# second, and an interrupted import resumes after the last committed chunk.
CHUNK_SIZE = 5000
DEFAULT_SOURCE = "csv"
ACTOR_LABEL = "import_leads"

# Canonical field -> the header names that mean it, compared after `_header_key`.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "fullname", "contact name", "lead name"),
    "first_name": ("first name", "firstname", "given name", "first"),
    "last_name": ("last name", "lastname", "surname", "family name", "last"),
    "email": ("email", "e-mail", "email address", "e-mail address", "mail"),
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "tel",
        "mobile",
        "mobile phone",
        "mobile number",
        "cell",
        "cell phone",
    ),
    "company": ("company", "company name", "organization", "organisation", "business", "account"),
    "source": ("source", "lead source"),
    "external_id": ("external id", "id", "contact id", "lead id", "crm id"),
}

FIELD_LABELS = {
    "name": "name",
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
    "phone": "phone",
    "company": "company",
    "source": "source",
    "external_id": "external id",
}


def _header_key(value: str) -> str:
    return re.sub(r"[\s._-]+", "", value.strip().lower())


_ALIAS_TO_FIELD: dict[str, str] = {
    _header_key(alias): name for name, aliases in HEADER_ALIASES.items() for alias in aliases
}


def mapping_help() -> str:
    """The header mapping as text, for `--help` and the README."""
    lines = [f"  {FIELD_LABELS[name]:<12} {', '.join(aliases)}" for name, aliases in HEADER_ALIASES.items()]
    return "\n".join(lines)


def header_fields(header: list[str]) -> list[str]:
    """The field each column fills by its name ("" when none), for a mapping form's defaults."""
    return [_ALIAS_TO_FIELD.get(_header_key(cell), "") for cell in header]


class ImportFileError(Exception):
    """The file as a whole cannot be imported (no header, no email/phone column, not UTF-8)."""


@dataclass(frozen=True)
class HeaderMap:
    columns: dict[str, int]  # canonical field -> column index
    ignored: list[str]

    @classmethod
    def from_header(cls, header: list[str]) -> HeaderMap:
        columns: dict[str, int] = {}
        ignored: list[str] = []
        for index, raw in enumerate(header):
            name = _ALIAS_TO_FIELD.get(_header_key(raw))
            if name is None:
                if raw.strip():
                    ignored.append(raw.strip())
                continue
            if name in columns:
                first = header[columns[name]].strip()
                raise ImportFileError(
                    f"Columns {first!r} and {raw.strip()!r} both mean {FIELD_LABELS[name]}; "
                    "remove or rename one of them and import again."
                )
            columns[name] = index
        if "email" not in columns and "phone" not in columns:
            found = ", ".join(repr(h.strip()) for h in header if h.strip()) or "none"
            raise ImportFileError(
                "The header row needs an email column or a phone column (for example 'Email' or 'Phone'); "
                f"columns found: {found}."
            )
        return cls(columns=columns, ignored=ignored)

    @classmethod
    def from_mapping(cls, header: list[str], mapping: Sequence[str]) -> HeaderMap:
        """The columns as a person chose them: `mapping[i]` is the field column i fills ("" ignores it)."""
        columns: dict[str, int] = {}
        ignored: list[str] = []
        for index, raw in enumerate(header):
            name = mapping[index] if index < len(mapping) else ""
            if not name:
                if raw.strip():
                    ignored.append(raw.strip())
                continue
            if name not in FIELD_LABELS:
                raise ImportFileError(f"{name!r} is not a field a column can fill.")
            if name in columns:
                first = header[columns[name]].strip()
                raise ImportFileError(
                    f"Columns {first!r} and {raw.strip()!r} both fill {FIELD_LABELS[name]}; "
                    "choose one of them and set the other to be ignored."
                )
            columns[name] = index
        if "email" not in columns and "phone" not in columns:
            raise ImportFileError(
                "Choose the column that holds the email address or the phone number: every lead needs one of them."
            )
        return cls(columns=columns, ignored=ignored)

    def value(self, row: list[str], name: str) -> str:
        index = self.columns.get(name)
        if index is None or index >= len(row):
            return ""
        return row[index].strip()

    def values(self, row: list[str]) -> dict[str, str]:
        """Each mapped field's value in this row (`value` for all of them at once)."""
        length = len(row)
        return {name: row[index].strip() if index < length else "" for name, index in self.columns.items()}


@dataclass
class ImportSummary:
    created: int = 0
    enriched: int = 0
    unchanged: int = 0
    rejected: int = 0
    blank: int = 0
    rejects_path: Path | None = None
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.created + self.enriched + self.unchanged + self.rejected

    def line(self) -> str:
        return (
            f"Imported {self.rows} rows: {self.created} created, {self.enriched} enriched, "
            f"{self.unchanged} unchanged, {self.rejected} rejected."
        )


@dataclass
class _Row:
    number: int
    raw: list[str]
    data: LeadData
    source: str


def clean_source(value: str) -> str:
    """A source label as the webhooks accept it (lower-case letters, digits, '-' or '_', at most
    40): "Trade show (Berlin)!" becomes "trade-show-berlin", accents are dropped ("Messe Köln"
    becomes "messe-koln"). Refused only when nothing usable is left."""
    cleaned = slugify(value)[:40].strip("-_")
    if not SOURCE_RE.match(cleaned):
        raise InvalidInput(
            f"source {value!r} cannot be used: it needs at least one letter or digit (for example 'trade-show')."
        )
    return cleaned


def count_rows(path: Path) -> int:
    """Lines after the header, for the progress bar (quoted line breaks make it an estimate)."""
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        count += 1
    return max(count - 1, 0)


def _row_data(
    header: HeaderMap, raw: list[str], default_source: str, phone_region: str | None = None
) -> tuple[LeadData, str]:
    cells = header.values(raw)
    name = cells.get("name", "")
    if not name:
        name = " ".join(p for p in (cells.get("first_name", ""), cells.get("last_name", "")) if p)
    source = cells.get("source", "")
    source = clean_source(source) if source else default_source
    data = LeadData.build(
        name=name,
        email=cells.get("email", ""),
        phone=cells.get("phone", ""),
        company=cells.get("company", ""),
        external_id=cells.get("external_id", ""),
        phone_region=phone_region,
    )
    return data, source


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text[:1].upper() + text[1:]


class _RejectsWriter:
    def __init__(self, path: Path, header: list[str], on_reject: Callable[[int, str, list[str]], None] | None) -> None:
        self.path = path
        self.on_reject = on_reject
        self.handle = path.open("w", newline="", encoding="utf-8")
        # The file echoes each lead's own cells back to the operator's spreadsheet.
        self.writer = csv_writer(self.handle)
        self.writer.writerow(["row", "reason", *header])

    def write(self, number: int, reason: str, raw: list[str]) -> None:
        self.writer.writerow([number, reason, *raw])
        if self.on_reject:
            self.on_reject(number, reason, raw)

    def close(self) -> None:
        self.handle.close()


# Delimiters a spreadsheet writes: Excel in European locales saves "CSV" with semicolons.
DELIMITERS = ",;\t|"


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without Excel's BOM), else Windows-1252, as older Excel saves "CSV"."""
    with path.open("rb") as handle:
        sample = handle.read(1 << 20)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":  # not merely a character cut by the sample's end
            try:
                sample.decode("cp1252")
            except UnicodeDecodeError:
                raise ImportFileError(
                    f"{path.name} is neither UTF-8 nor Windows-1252 text; save it as 'CSV UTF-8' "
                    "in your spreadsheet and import again."
                ) from None
            return "cp1252"
    return "utf-8-sig"


def detect_delimiter(header_line: str) -> str:
    """The header line's delimiter among , ; tab and |; a comma when it has a single column."""
    try:
        return csv.Sniffer().sniff(header_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: header_line.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def file_dialect(path: Path) -> tuple[str, str]:
    """(encoding, delimiter) of a CSV file, from its bytes and its first non-blank line."""
    encoding = detect_encoding(path)
    with path.open("r", newline="", encoding=encoding) as handle:
        for line in handle:
            if line.strip():
                return encoding, detect_delimiter(line.rstrip("\r\n"))
    return encoding, ","


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for every row, the header being row 1."""
    encoding, delimiter = file_dialect(path)
    with path.open("r", newline="", encoding=encoding) as handle:
        try:
            yield from enumerate(csv.reader(handle, delimiter=delimiter), start=1)
        except UnicodeDecodeError:
            raise ImportFileError(
                f"{path.name} is not UTF-8 text; save it as 'CSV UTF-8' in your spreadsheet and import again."
            ) from None
        except csv.Error as exc:
            raise ImportFileError(f"{path.name} is not a readable CSV file: {exc}.") from None


def _is_blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()  # no cell holds anything but whitespace


def lead_import_csv(
    *,
    path: Path,
    source: str = DEFAULT_SOURCE,
    rejects_path: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
    mapping: Sequence[str] | None = None,
    start_after_row: int = 0,
    on_chunk: Callable[[int, ImportSummary], None] | None = None,
    on_reject: Callable[[int, str, list[str]], None] | None = None,
) -> ImportSummary:
    """Import leads from a CSV file (see the module docstring for the mapping and the rules).

    Each chunk of rows is one transaction, so a long import never holds the database for long
    (SQLite has one writer) and an interrupted import can simply be run again.

    For a run that records its own progress: `mapping` (the field each column fills, "" to
    ignore it) replaces the header names; rows numbered up to `start_after_row` are skipped;
    `on_chunk(last row number, summary so far)` is called inside each chunk's transaction after
    its rows, and once more at the end, so what it saves commits with exactly those rows;
    `on_reject(row number, reason, cells)` hears each rejected row as it is rejected.
    """
    path = Path(path)
    default_source = clean_source(source)
    rejects_path = Path(rejects_path) if rejects_path else path.with_name(path.name + ".rejects.csv")
    summary = ImportSummary(rejects_path=rejects_path)

    records = _records(path)
    header: HeaderMap | None = None
    header_cells: list[str] = []
    last_number = 0
    for number, cells in records:
        if not _is_blank(cells):
            last_number = number
            header_cells = cells
            header = HeaderMap.from_mapping(cells, mapping) if mapping is not None else HeaderMap.from_header(cells)
            break
    if header is None:
        raise ImportFileError(f"{path.name} has no header row; the first row must name the columns (e.g. Email).")
    summary.ignored_columns = header.ignored
    phone_region = settings.PHONE_DEFAULT_REGION  # read once: each read of a setting costs a call

    def finish(rows: list[_Row]) -> None:
        if on_chunk is None:
            _import_chunk(rows, summary, rejects, path.name)
        else:
            with transaction.atomic():
                if rows:
                    _import_chunk(rows, summary, rejects, path.name)
                on_chunk(last_number, summary)
        if on_progress and rows:
            on_progress(len(rows))

    rejects = _RejectsWriter(rejects_path, header_cells, on_reject)
    try:
        chunk: list[_Row] = []
        for last_number, cells in records:
            if last_number <= start_after_row:
                continue
            if _is_blank(cells):
                summary.blank += 1
                if on_progress:
                    on_progress(1)
                continue
            try:
                data, row_source = _row_data(header, cells, default_source, phone_region)
            except InvalidInput as exc:
                summary.rejected += 1
                rejects.write(last_number, _reason(exc), cells)
                if on_progress:
                    on_progress(1)
                continue
            chunk.append(_Row(number=last_number, raw=cells, data=data, source=row_source))
            if len(chunk) >= CHUNK_SIZE:
                finish(chunk)
                chunk = []
        if chunk or on_chunk is not None:
            finish(chunk)
    finally:
        rejects.close()
    logger.info(
        "leads.import_finished",
        extra={
            "rows_created": summary.created,
            "rows_enriched": summary.enriched,
            "rows_unchanged": summary.unchanged,
            "rows_rejected": summary.rejected,
        },
    )
    return summary


def _keys(data: LeadData) -> set[str]:
    return {key for key in (data.email_normalized, data.phone_e164) if key}


class _ChunkLeads:
    """The leads (active or merged) holding a chunk's emails and phones, loaded in one query."""

    def __init__(self, rows: list[_Row]) -> None:
        emails = {r.data.email_normalized for r in rows if r.data.email_normalized}
        phones = {r.data.phone_e164 for r in rows if r.data.phone_e164}
        self.by_key: dict[str, dict[int, Lead | _NewLead]] = {}
        self.keys_of: dict[int, set[str]] = {}
        for lead in leads_holding(emails=emails, phones=phones):
            self.add(lead)

    def add(self, lead: Lead | _NewLead) -> None:
        """Remember `lead` as it is now (a later row must see what an earlier row changed).

        A lead this chunk just created may come as a `_NewLead`: it becomes a Lead only if a
        later row of the chunk looks it up."""
        keys = self.keys_of.setdefault(lead.pk, set())
        keys.update(key for key in (lead.email_normalized, lead.phone_e164) if key)
        for key in keys:
            self.by_key.setdefault(key, {})[lead.pk] = lead

    def _holders(self, key: str) -> dict[int, Lead]:
        holders = self.by_key.get(key)
        if not holders:
            return {}
        for lead in list(holders.values()):
            if isinstance(lead, _NewLead):
                self.add(lead.build())
        return holders  # type: ignore[return-value]  # every _NewLead replaced just now

    def holds_any(self, keys: set[str]) -> bool:
        return any(self.by_key.get(key) for key in keys)

    def find(self, data: LeadData) -> Lead | None:
        """`lead_find_duplicate`'s answer without a query in the common case.

        Email first; then phone, with a lead whose email does not conflict, as there. When every
        lead holding the deciding key is active, the answer is read from them; anything else (a
        merged lead holds it) is left to `lead_find_duplicate` itself.
        """
        for key in (data.email_normalized, data.phone_e164):
            holders = self._holders(key) if key else None
            if not holders:
                continue
            if any(lead.merged_into_id is not None for lead in holders.values()):
                found, _matched_on = lead_find_duplicate(
                    email_normalized=data.email_normalized, phone_e164=data.phone_e164
                )
                return found
            if key == data.email_normalized:
                return min(holders.values(), key=lambda lead: lead.pk)
            same_person = [
                lead
                for lead in holders.values()
                if lead.phone_e164 == key and not emails_conflict(lead.email_normalized, data.email_normalized)
            ]
            return min(same_person, key=lambda lead: lead.pk) if same_person else None
        return None


def _import_chunk(rows: list[_Row], summary: ImportSummary, rejects: _RejectsWriter, file_name: str) -> None:
    """Take in a chunk: the rows no lead or earlier row holds the details of are created together
    first, then the others, in file order.

    Creating those first changes no outcome: a row is held back when its email or phone is held by
    a lead, by a row created here or by a row held back before it, so the rows created together
    share no detail with any held-back row, and every lead a held-back row can find, change, be a
    possible duplicate of or create holds only details no created row has.
    """
    with transaction.atomic():
        known = _ChunkLeads(rows)
        new: list[_Row] = []
        later: list[_Row] = []
        claimed: set[str] = set()
        held_back: set[str] = set()
        for row in rows:
            keys = _keys(row.data)
            if known.holds_any(keys) or not keys.isdisjoint(claimed) or not keys.isdisjoint(held_back):
                later.append(row)
                held_back |= keys
            else:
                new.append(row)
                claimed |= keys
        for created in _create_new(new, summary, rejects, file_name, wanted=held_back):
            known.add(created)
        for row in later:
            lead = _import_existing(row, summary, rejects, file_name, known.find(row.data))
            if lead is not None:
                known.add(lead)


def _fingerprint(row: _Row) -> str:
    data = row.data
    text = "\x1f".join((row.source, data.name, data.email_normalized, data.phone_e164, data.company, data.external_id))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _via(file_name: str, row: _Row) -> str:
    return f"csv {file_name} row {row.number} #{_fingerprint(row)}"


def _already_imported(lead: Lead, row: _Row) -> bool:
    return LeadEvent.objects.filter(lead=lead, data__via__endswith=f" #{_fingerprint(row)}").exists()


@dataclass(frozen=True)
class _NewLead:
    """A lead the bulk path just inserted: its id and the values it was given."""

    pk: int
    values: dict[str, object]
    using: str

    @property
    def email_normalized(self) -> str:
        return str(self.values["email_normalized"])

    @property
    def phone_e164(self) -> str:
        return str(self.values["phone_e164"])

    def build(self) -> Lead:
        """The Lead as a query would load it (the fields not given at their defaults), built
        positionally: keyword construction would cost more than the insert."""
        row: list[object] = []
        for f in Lead._meta.concrete_fields:
            if f.primary_key:
                row.append(self.pk)
            elif f.attname in self.values:
                row.append(self.values[f.attname])
            else:
                row.append(f.get_default())
        return instance_from(Lead, row, self.using)


def _create_new(
    rows: list[_Row], summary: ImportSummary, rejects: _RejectsWriter, file_name: str, *, wanted: set[str]
) -> list[Lead] | list[_NewLead]:
    """Create leads for rows whose email and phone no lead has, in one insert per table.

    Writes what `lead_intake` writes for a new lead (the lead, a `created` event, a
    `lead.created` audit row); tests/leads/test_importer.py compares the two field by field.
    The board's counts and the search index take in the chunk's new leads at once
    (`lead_bulk_insert`). Returns the new leads holding one of the `wanted` emails or phones (a
    later row of the chunk has them), as `_NewLead`s unless the insert had to fall back to
    `lead_intake` (then every lead it took the rows to).
    """
    if not rows:
        return []
    now = timezone.now()
    public_ids = _new_public_ids(len(rows))
    datas = [r.data for r in rows]
    sources = [r.source for r in rows]
    encode = _ChunkJson(file_name)
    leads: dict[str, list[Any]] = {
        "public_id": public_ids,
        "name": [d.name for d in datas],
        "email": [d.email for d in datas],
        "email_normalized": [d.email_normalized for d in datas],
        "phone": [d.phone for d in datas],
        "phone_e164": [d.phone_e164 for d in datas],
        "company": [d.company for d in datas],
        "source": sources,
        "external_ids": [encode.external_ids(r.source, r.data.external_id) for r in rows],
    }
    connection = connections[router.db_for_write(Lead)]
    try:
        with lead_bulk_insert(connection) as new_ids:
            insert_columns(
                Lead,
                leads,
                same={"created_at": now, "updated_at": now},
                encoded=("external_ids",),
                using=connection.alias,
            )
            pks = _ids_by_public_id(public_ids)
            new_ids.extend(pks)
    except IntegrityError:
        # Someone else created one of these leads since the chunk was looked up.
        found = []
        for row in rows:
            existing, _matched_on = lead_find_duplicate(
                email_normalized=row.data.email_normalized, phone_e164=row.data.phone_e164
            )
            lead = _import_existing(row, summary, rejects, file_name, existing)
            if lead is not None:
                found.append(lead)
        return found
    details = [encode.details(r) for r in rows]  # the event's data and the audit row's details
    created_kind = LeadEvent.Kind.CREATED
    summaries = {source: f"Arrived from {source}"[:SUMMARY_MAX_LENGTH] for source in set(sources)}
    insert_columns(
        LeadEvent,
        {"lead_id": pks, "summary": [summaries[source] for source in sources], "data": details},
        same={"kind": created_kind.value, "label": str(created_kind.label), "at": now},
        encoded=("data",),
        using=connection.alias,
    )
    insert_columns(
        AuditEvent,
        {
            "object_id": [str(pk) for pk in pks],
            # What str(Lead) is for a new lead.
            "object_repr": [
                (d.name or d.email or d.phone or str(public_id))[:255]
                for d, public_id in zip(datas, public_ids, strict=True)
            ],
            "details": details,
        },
        same={
            "actor_user_id": None,
            "actor_label": ACTOR_LABEL,
            "verb": "lead.created",
            "object_type": Lead._meta.label_lower,
            "created_at": now,
        },
        encoded=("details",),
        using=connection.alias,
    )
    board_version_bump()
    summary.created += len(rows)
    names = list(leads)
    wanted_leads: list[_NewLead] = []
    for i, row in enumerate(rows):
        if row.data.email_normalized in wanted or row.data.phone_e164 in wanted:
            values = {name: leads[name][i] for name in names}
            values["external_ids"] = {row.source: row.data.external_id} if row.data.external_id else {}
            wanted_leads.append(_NewLead(pk=pks[i], values=values, using=connection.alias))
    return wanted_leads


def _new_public_ids(count: int) -> list[uuid.UUID]:
    """`count` new public ids, made as `uuid4` makes them (16 random bytes from the OS, version 4),
    in ascending order.

    The leads of a chunk are inserted in file order, so ascending ids go into the unique index on
    `public_id` as one pass over its pages rather than `count` inserts at random places (about an
    eighth of the cost of inserting a lead row on SQLite). Each id is as random as before; only
    which row of the chunk gets which is no longer random.
    """
    random = os.urandom(16 * count)  # one read of the OS's random source, not one per id
    ids = [uuid.UUID(bytes=random[start : start + 16], version=4) for start in range(0, len(random), 16)]
    ids.sort(key=attrgetter("int"))
    return ids


class _ChunkJson:
    """A chunk's JSON values as the text Django stores (`json.dumps`, as `JSONField` encodes),
    written straight from the parts that vary per row.

    The event's `data` and the audit row's `details` of a created lead are one value, encoded once
    here for both. Each piece that can hold any text (the file name, the source, the external id)
    is encoded by `json.dumps` itself; what is put between them is JSON syntax, and the row number
    and fingerprint (digits and hex) are their own JSON encoding. tests/leads/test_import_json.py
    compares every value with `json.dumps` of the dict.
    """

    def __init__(self, file_name: str) -> None:
        self.via_head = json.dumps(f"csv {file_name} row ")[:-1]  # the opening quote, no closing one
        self.sources: dict[str, str] = {}

    def _source(self, source: str) -> str:
        encoded = self.sources.get(source)
        if encoded is None:
            encoded = self.sources[source] = json.dumps(source)
        return encoded

    def details(self, row: _Row) -> str:
        """`{"source": source, "via": _via(file_name, row)}`."""
        return f'{{"source": {self._source(row.source)}, "via": {self.via_head}{row.number} #{_fingerprint(row)}"}}'

    def external_ids(self, source: str, external_id: str) -> str:
        """`{source: external_id}`, or `{}` without an external id."""
        return f"{{{self._source(source)}: {json.dumps(external_id)}}}" if external_id else "{}"


def _ids_by_public_id(public_ids: list[uuid.UUID]) -> list[int]:
    """New leads' ids, read back by the UUIDs given them (in their order), in one query."""
    connection = connections[router.db_for_read(Lead)]
    qn = connection.ops.quote_name
    field = Lead._meta.get_field("public_id")
    values = [field.get_db_prep_value(value, connection) for value in public_ids]
    param: object
    if connection.vendor == "postgresql":
        matching, param = "= ANY(%s::uuid[])", values
    else:
        matching, param = "IN (SELECT value FROM json_each(%s))", json.dumps(values)
    sql = f"SELECT {qn('public_id')}, {qn('id')} FROM {qn(Lead._meta.db_table)} WHERE {qn('public_id')} {matching}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [param])
        by_value = dict(cursor.fetchall())
    return [by_value[value] for value in values]


def _would_change(lead: Lead, data: LeadData, source: str) -> bool:
    """Whether `lead_intake` would change or note anything for this row (it writes nothing here)."""
    probe = copy.copy(lead)
    if enrich_in_memory(probe, data, source):
        return True
    return bool(also_seen_pending(probe, data))


def _import_existing(
    row: _Row, summary: ImportSummary, rejects: _RejectsWriter, file_name: str, existing: Lead | None
) -> Lead | None:
    """Take in a row whose email or phone some lead has (`existing`, found by the dedup rule).

    Returns the lead as the row left it, or None when the row was rejected.
    """
    if existing is not None and (not _would_change(existing, row.data, row.source) or _already_imported(existing, row)):
        summary.unchanged += 1
        return existing
    try:
        result = lead_intake(data=row.data, source=row.source, actor_label=ACTOR_LABEL, via=_via(file_name, row))
    except (DomainError, IntegrityError) as exc:
        summary.rejected += 1
        reason = _reason(exc) if isinstance(exc, DomainError) else "Another lead took this email or phone meanwhile."
        rejects.write(row.number, reason, row.raw)
        return None
    if result.created:
        summary.created += 1
    else:
        summary.enriched += 1
    return result.lead


@dataclass
class ImportPreview:
    """What importing a file would do, computed by running the real import and rolling it back."""

    encoding: str
    delimiter: str
    mapping: list[tuple[str, str]]  # (CSV column, field it fills, or "" when ignored)
    summary: ImportSummary
    rejects: list[tuple[str, str]]  # (row number, reason), the first few


DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def lead_import_preview(
    *, path: Path, source: str = DEFAULT_SOURCE, rejects_path: Path, shown: int = 10
) -> ImportPreview:
    """A dry run: the same import inside a transaction that is rolled back, so the counts are
    exactly what `lead_import_csv` would report now, and nothing is written."""
    path = Path(path)
    encoding, delimiter = file_dialect(path)
    records = _records(path)
    header_cells = next((cells for _n, cells in records if not _is_blank(cells)), [])
    header = HeaderMap.from_header(header_cells)
    by_index = {index: name for name, index in header.columns.items()}
    mapping = [(cell, FIELD_LABELS.get(by_index.get(i, ""), "")) for i, cell in enumerate(header_cells)]
    with transaction.atomic():
        summary = lead_import_csv(path=path, source=source, rejects_path=rejects_path)
        transaction.set_rollback(True)
    with Path(rejects_path).open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        rejects = [(row[0], row[1]) for row, _ in zip(reader, range(shown), strict=False)]
    return ImportPreview(encoding=encoding, delimiter=delimiter, mapping=mapping, summary=summary, rejects=rejects)
