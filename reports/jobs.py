"""The owner's daily digest, sent by the dispatcher at the settings' digest time (owner zone)."""

from __future__ import annotations

from clientsflow.dispatcher import DailyAtSetting, job
from reports.digest import digest_send, owner_today


@job("owner_digest", DailyAtSetting("digest_time"), "Email (and post to Slack) the owner's daily digest, once a day.")
def owner_digest() -> dict[str, object]:
    day = owner_today()
    notification = digest_send(day=day)
    return {"day": day.isoformat(), "sent": notification is not None}
