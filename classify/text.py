"""Reduce a reply to what the sender wrote this time: no quoted thread, no signature.

The original pitch quoted below a reply ("not interested? just reply no", "happy to chat") must
never decide its label, so everything from the first quote header on is dropped, as are `>` lines,
the `-- ` signature block, "Sent from my iPhone" lines and a closing sign-off with the name under it.

Why not a library: mail-parser-reply 1.36 (the maintained multi-language parser on PyPI) has no
Portuguese headers, misses Gmail's Spanish "El ... escribió:" header, and treats any line starting
with "Thanks," as the start of a signature, so "Hi,\\nThanks, happy to talk Tuesday" loses the
sentence that matters; quotequail 0.5.4 finds quote headers but not Outlook header blocks or
signatures. The rules below cover the same ground for English, Spanish, German, French and
Portuguese and are tested line by line in tests/classify/test_text.py.
"""

from __future__ import annotations

import re
import unicodedata

# A line that starts the quoted earlier message: everything from it on is dropped.
_QUOTE_HEADER_PATTERNS = [
    r"^on\b.{0,200}\bwrote:?$",  # Gmail / Apple Mail (en)
    r"^el\b.{0,200}\bescribi[oó]:?$",  # es
    r"^am\b.{0,200}\bschrieb\b.{0,200}:?$",  # de
    r"^le\b.{0,200}\ba [ée]crit\s?:?$",  # fr
    r"^em\b.{0,200}\bescreveu:?$",  # pt
    r"^-{2,}\s*(original message|mensaje original|urspr[üu]ngliche nachricht|message d'origine|mensagem original)\s*-{2,}$",
    r"^-{2,}\s*(forwarded message|mensaje reenviado|weitergeleitete nachricht|message transf[ée]r[ée]|mensagem encaminhada)\s*-{2,}$",
    r"^begin forwarded message:?$",
    r"^_{10,}$",
]
_QUOTE_HEADER = re.compile("|".join(f"(?:{p})" for p in _QUOTE_HEADER_PATTERNS), re.IGNORECASE)

# "From: ... / Sent: ..." blocks that Outlook puts above the quoted message (two header lines in a row).
_OUTLOOK_FIELD = re.compile(
    r"^\*?(from|von|de|sent|gesendet|enviado|enviada em|envoy[ée]|date|datum|fecha|data|to|an|para|[àa]|"
    r"subject|betreff|asunto|objet|assunto|cc)\*?\s?:",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\*?(from|von|de)\*?\s?:", re.IGNORECASE)

# "Sent from my iPhone" in the five languages (and the Outlook mobile footer).
_SENT_FROM = re.compile(
    r"^(sent from my\b|sent from (outlook|yahoo|mail)\b|get outlook for\b|enviado desde mi\b|enviado do meu\b|"
    r"von meinem .{0,30} gesendet|gesendet von\b|envoy[ée] (de|depuis) mon\b|envoy[ée] depuis\b)",
    re.IGNORECASE,
)

# A sign-off alone on its line; it only ends the message when what follows looks like a name block.
_SIGN_OFF = re.compile(
    r"^(best( regards| wishes)?|kind regards|warm regards|regards|many thanks|thanks( again| so much)?|thank you|"
    r"cheers|all the best|sincerely|yours|talk soon|br|"
    r"saludos( cordiales)?|un saludo|atentamente|cordialmente|gracias|muchas gracias|"
    r"mit freundlichen gr[üu](ß|ss)en|freundliche gr[üu](ß|ss)e|viele gr[üu](ß|ss)e|beste gr[üu](ß|ss)e|"
    r"liebe gr[üu](ß|ss)e|gr[üu](ß|ss)e|lg|vg|danke|"
    r"cordialement|bien [àa] vous|bien cordialement|salutations|merci|bonne journ[ée]e|"
    r"atenciosamente|abra[çc]os|abs|obrigad[oa]|att|sauda[çc][õo]es)[\s,.!]*$",
    re.IGNORECASE,
)
_SIGNATURE_DELIMITER = re.compile(r"^(--|-- |__)\s*$")
_DISCLAIMER = re.compile(
    r"^(this (e-?mail|message)\b.{0,40}\bconfidential|confidentiality notice|disclaimer:|"
    r"diese e-?mail\b.{0,40}\bvertraulich|ce (message|courriel)\b.{0,40}\bconfidentiel|"
    r"este (correo|e-?mail)\b.{0,40}\bconfidencial)",
    re.IGNORECASE,
)
_MAX_NAME_BLOCK_LINES = 5


def normalize(text: str) -> str:
    """Lower-cased and folded to ASCII ("não" is "nao"): the form the cues and the model read."""
    folded = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def strip_reply(text: str) -> str:
    """The new text of a reply, without the quoted thread and the signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, raw in enumerate(lines):
        line = raw.strip()
        if _QUOTE_HEADER.match(line) or _is_wrapped_quote_header(lines, index) or _is_outlook_block(lines, index):
            break
        if _SIGNATURE_DELIMITER.match(raw) or _SENT_FROM.match(line) or _DISCLAIMER.match(line):
            break
        if line.startswith(">"):
            continue
        kept.append(raw.rstrip())
    kept = _drop_sign_off(kept)
    return "\n".join(kept).strip()


def _is_wrapped_quote_header(lines: list[str], index: int) -> bool:
    """Gmail wraps a long "On <date>, <name> <address>" header over two lines."""
    if index + 1 >= len(lines):
        return False
    joined = f"{lines[index].strip()} {lines[index + 1].strip()}"
    return bool(re.match(r"^(on|el|am|le|em)\b", lines[index].strip(), re.IGNORECASE)) and bool(
        _QUOTE_HEADER.match(joined)
    )


def _is_outlook_block(lines: list[str], index: int) -> bool:
    if not _OUTLOOK_FROM.match(lines[index].strip()):
        return False
    following = [line.strip() for line in lines[index + 1 : index + 4] if line.strip()]
    return any(_OUTLOOK_FIELD.match(line) for line in following[:2])


def _drop_sign_off(lines: list[str]) -> list[str]:
    """Cut a trailing "Best regards,\\nName\\nTitle" block, never a sentence that starts with "Thanks, ..."."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    for index in range(len(lines) - 1, 0, -1):
        if _SIGN_OFF.match(lines[index].strip()):
            tail = [line for line in lines[index + 1 :] if line.strip()]
            if len(tail) <= _MAX_NAME_BLOCK_LINES and all(len(line.strip()) <= 80 for line in tail):
                return lines[:index]
            return lines
    return lines
