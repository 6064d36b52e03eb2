"""Prompt versions: the one in use (the champion) always exists once something needs it."""

from __future__ import annotations

from django.db import transaction

from classify.models import PromptVersion
from classify.prompts import DEFAULT_PROMPT_NAME, DEFAULT_SYSTEM_PROMPT
from classify.selectors import champion_prompt


@transaction.atomic
def prompt_ensure_champion() -> PromptVersion:
    """The champion prompt, installing the built-in one as champion when there is none.

    A migration installs it, but a database emptied since (a flushed test database, a restore of
    an older backup) has no row, and classifying with Anthropic must still have a prompt.
    """
    champion = champion_prompt()
    if champion is not None:
        return champion
    prompt, _ = PromptVersion.objects.get_or_create(
        name=DEFAULT_PROMPT_NAME,
        defaults={"system_prompt": DEFAULT_SYSTEM_PROMPT, "status": PromptVersion.Status.CHAMPION},
    )
    return prompt
