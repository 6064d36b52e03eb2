from __future__ import annotations

import pytest

from classify.text import strip_reply

PITCH = "> Would you be open to a quick call? Happy to chat.\n> Not interested? Just reply no."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"Sure, when?\n\nOn Mon, Nov 23, 2026 at 9:14 AM Owen Park <owen@agency.com> wrote:\n{PITCH}", "Sure, when?"),
        # Gmail wraps a long header over two lines.
        (f"nope\n\nOn Mon, Nov 23, 2026 at 9:14 AM Owen Park\n<owen@agency.com> wrote:\n{PITCH}", "nope"),
        (
            f"Sí, me interesa.\n\nEl lun, 23 nov 2026 a las 9:14, Owen (<o@a.com>) escribió:\n{PITCH}",
            "Sí, me interesa.",
        ),
        (f"Kein Interesse.\n\nAm Mo., 23. Nov. 2026 um 09:14 Uhr schrieb Owen <o@a.com>:\n{PITCH}", "Kein Interesse."),
        (f"Pas intéressé.\n\nLe lun. 23 nov. 2026 à 09:14, Owen <o@a.com> a écrit :\n{PITCH}", "Pas intéressé."),
        (f"Pode ser!\n\nEm seg., 23 de nov. de 2026 às 09:14, Owen <o@a.com> escreveu:\n{PITCH}", "Pode ser!"),
        (
            "No thanks.\n\n-----Original Message-----\nFrom: Owen\nSent: Monday\nSubject: hi\n\nHappy to chat?",
            "No thanks.",
        ),
        (
            "No thanks.\n\nFrom: Owen Park <o@a.com>\nSent: Monday, November 23, 2026 9:14 AM\nTo: Ana\n"
            "Subject: Quick question\n\nWould you be open to a call? Happy to chat.",
            "No thanks.",
        ),
        (
            "Gracias, lo reviso.\n\nDe: Owen Park <o@a.com>\nEnviado: lunes, 23 de noviembre de 2026\n\nHola",
            "Gracias, lo reviso.",
        ),
        ("happy to chat\n\nSent from my iPhone", "happy to chat"),
        ("Klingt gut.\n\nVon meinem iPhone gesendet", "Klingt gut."),
        ("Let's talk.\n\n-- \nJordan Miles\nCOO, Harbor & Finch", "Let's talk."),
        ("Not for us.\n\nBest regards,\nPriya Shah\nHead of Marketing | Brightline\n+1 555 014 2210", "Not for us."),
        ("Avec plaisir.\n\nCordialement,\nCamille Martin", "Avec plaisir."),
        ("Ok.\n\nMit freundlichen Grüßen\nAnna Schneider\nGeschäftsführerin", "Ok."),
        ("Tenho interesse.\n\nAtenciosamente,\nMariana Costa", "Tenho interesse."),
        ("> quoted first\nInteresting, tell me more", "Interesting, tell me more"),
        ("Sounds good.\n\nThis email and any attachments are confidential.", "Sounds good."),
    ],
)
def test_strip_reply_removes_quotes_and_signatures(raw: str, expected: str) -> None:
    assert strip_reply(raw) == expected


def test_a_sentence_starting_with_thanks_is_kept() -> None:
    # mail-parser-reply would cut here; the sentence that decides the label must survive.
    assert strip_reply("Hi Ana,\nThanks, happy to talk Tuesday at 3.") == "Hi Ana,\nThanks, happy to talk Tuesday at 3."


def test_a_one_word_thanks_reply_is_kept() -> None:
    assert strip_reply("Thanks!") == "Thanks!"


def test_a_long_text_after_a_sign_off_word_is_not_cut() -> None:
    body = "We talked internally.\nCheers\n" + "\n".join(f"Point {n}: we want this part too." for n in range(8))
    assert strip_reply(body) == body


def test_only_a_quote_leaves_nothing() -> None:
    assert strip_reply(f"On Mon, Nov 23, 2026 at 9:14 AM Owen <o@a.com> wrote:\n{PITCH}") == ""


def test_the_quoted_pitch_never_decides_the_label() -> None:
    from classify.local_model import load_model

    quoted_negative_bait = "Not interested? Just reply no and I'll stop. Unsubscribe: reply STOP."
    raw = (
        f"Yes, let's talk Thursday.\n\nOn Mon, Nov 23, 2026 at 9:14 AM Owen <o@a.com> wrote:\n> {quoted_negative_bait}"
    )
    assert load_model().predict(raw).label == "positive"
    assert load_model().predict(raw).probabilities == load_model().predict("Yes, let's talk Thursday.").probabilities
