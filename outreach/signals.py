"""Events other apps react to, so `outreach` never imports their models.

`reply_received` is sent (after commit) when an inbound reply is stored; `classify` connects a
receiver that queues its classification.
"""

from django.dispatch import Signal

reply_received = Signal()  # kwargs: reply_id
