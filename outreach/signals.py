"""Events other apps react to, so `outreach` never imports their models.

`reply_received` is sent (after commit) when an inbound reply is stored; `classify` connects a
receiver that queues its classification. `reply_applied` is sent (after commit) when a person
applies a reply that was held because its sender was not verified; `classify` then runs its policy.
"""

from django.dispatch import Signal

reply_received = Signal()  # kwargs: reply_id
reply_applied = Signal()  # kwargs: reply_id, actor_label
