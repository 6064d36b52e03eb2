"""Did the receiving side authenticate the sender of a reply? Read from the provider's verdicts.

Anyone can put a lead's address in `From:`. A reply matched to a lead only by that address may
act on the lead (stage, enrollment) only when a verdict we trust says the sender's domain
authenticated the message, aligned with the `From:` domain (relaxed, as DMARC does: the same
domain, or one a subdomain of the other):

* DKIM pass, signed with `d=` aligned with the From domain, or
* SPF pass for an envelope sender (`MAIL FROM`) aligned with the From domain.

Two sources of verdicts:

* Mailgun routes: `X-Mailgun-Dkim-Check-Result` and `X-Mailgun-Spf`, which Mailgun adds to mail it
  receives (https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http).
  The DKIM verdict does not name the signing domain, so every `DKIM-Signature` `d=` must align,
  and a sender who adds a header of the same name of their own gets a second, disagreeing value:
  every value present must say pass.
* IMAP: `Authentication-Results` (RFC 8601) added by our own receiving server, recognised by its
  authserv-id (`INBOUND_AUTHSERV_ID`). Without that setting no `Authentication-Results` is
  trusted. Only the topmost header with our id counts: our server prepends it, so anything below
  was there before the message reached us (RFC 8601 section 5 asks servers to remove those).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr

COMMENT_RE = re.compile(r"\([^()]*\)")
DKIM_TAG_RE = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)", re.IGNORECASE)


@dataclass(frozen=True)
class SenderCheck:
    verified: bool
    note: str  # how, or why not, in a few words a person can read


NOT_CHECKED = SenderCheck(False, "no authentication verdict")


def domain_of(address: str) -> str:
    address = parseaddr(address or "")[1] or (address or "")
    return address.rsplit("@", 1)[-1].strip().strip(".").lower() if "@" in address else ""


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment without a public-suffix list: equal, or one a subdomain of the other.

    A bare top-level name (no dot) never aligns: nobody signs as `com`.
    """
    domain, from_domain = (domain or "").strip(".").lower(), (from_domain or "").strip(".").lower()
    if not domain or not from_domain or "." not in domain or "." not in from_domain:
        return False
    return domain == from_domain or domain.endswith("." + from_domain) or from_domain.endswith("." + domain)


def _strip_comments(value: str) -> str:
    previous = None
    while previous != value:  # comments nest: remove the innermost until none is left
        previous, value = value, COMMENT_RE.sub(" ", value)
    return value


def _unquote(value: str) -> str:
    value = value.strip()
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


@dataclass(frozen=True)
class AuthResult:
    method: str
    result: str
    properties: dict[str, str]


def parse_authentication_results(value: str) -> tuple[str, list[AuthResult]]:
    """(authserv-id, results) of one `Authentication-Results` header value."""
    parts = [p.strip() for p in _strip_comments(" ".join(str(value).split())).split(";")]
    head = parts[0].split() if parts else []
    authserv_id = head[0].lower() if head else ""
    results: list[AuthResult] = []
    for part in parts[1:]:
        tokens = part.split()
        if not tokens or "=" not in tokens[0]:
            continue  # "none", or something we do not read
        method, _, result = tokens[0].partition("=")
        props: dict[str, str] = {}
        for token in tokens[1:]:
            key, sep, prop = token.partition("=")
            if sep and "." in key:
                props.setdefault(key.lower(), _unquote(prop))
        results.append(AuthResult(method.split("/")[0].lower(), result.lower(), props))
    return authserv_id, results


def check_authentication_results(message: Message, *, from_address: str, authserv_id: str) -> SenderCheck:
    """The verdict of our own receiving server's `Authentication-Results`, if it added one."""
    if not authserv_id:
        return SenderCheck(False, "Authentication-Results not trusted (INBOUND_AUTHSERV_ID is not set)")
    from_domain = domain_of(from_address)
    ours = None
    for header in message.get_all("Authentication-Results") or []:
        server, results = parse_authentication_results(str(header))
        if server == authserv_id.strip().lower():
            ours = results
            break
    if ours is None:
        return SenderCheck(False, "no Authentication-Results from our receiving server")
    for item in ours:
        if item.method == "dkim" and item.result == "pass":
            signer = item.properties.get("header.d") or domain_of(item.properties.get("header.i", ""))
            if aligned(signer, from_domain):
                return SenderCheck(True, f"DKIM pass for {signer}")
    for item in ours:
        if item.method == "spf" and item.result == "pass":
            mailfrom = item.properties.get("smtp.mailfrom", "")
            envelope = domain_of(mailfrom) if "@" in mailfrom else mailfrom.lower()
            if aligned(envelope, from_domain):
                return SenderCheck(True, f"SPF pass for {envelope}")
    return SenderCheck(False, "no DKIM or SPF pass for the From domain")


def dkim_signature_domains(message: Message) -> list[str]:
    domains = []
    for header in message.get_all("DKIM-Signature") or []:
        found = DKIM_TAG_RE.search(" ".join(str(header).split()))
        domains.append(found.group(1).lower() if found else "")
    return domains


def _all_pass(values: Iterable[str]) -> bool:
    values = [str(v).strip().lower() for v in values]
    return bool(values) and all(v == "pass" for v in values)


def check_mailgun(
    message: Message, *, from_address: str, spf: list[str], dkim: list[str], envelope_sender: str
) -> SenderCheck:
    """The verdict of Mailgun's own SPF and DKIM checks on a routed message."""
    from_domain = domain_of(from_address)
    signers = dkim_signature_domains(message)
    if _all_pass(dkim) and signers and all(aligned(d, from_domain) for d in signers):
        return SenderCheck(True, f"DKIM pass for {signers[0]}")
    envelope = domain_of(envelope_sender)
    if _all_pass(spf) and aligned(envelope, from_domain):
        return SenderCheck(True, f"SPF pass for {envelope}")
    if not spf and not dkim:
        return SenderCheck(False, "no Mailgun SPF or DKIM verdict")
    return SenderCheck(False, "no DKIM or SPF pass for the From domain")
