"""`make soak`: the production shape under load on loopback, then a check of the books.

Starts gunicorn (2 workers) on a free 127.0.0.1 port, one Celery worker and one Beat against a
PRIVATE PostgreSQL database (`soak_<pid>`, created here and dropped afterwards) and Redis (a private
key prefix and Celery queue in the given Redis db; never db 0), then drives it for a fixed time:

- signed lead webhooks, 10% replays of an earlier delivery and 5% bad signatures;
- booking form POSTs racing for the same few slots;
- Stripe (`checkout.session.completed` for seeded signed proposals, unknown types) and Fireflies
  webhooks, each with replays;
- board renders by a logged-in owner;
- meanwhile the one Beat's dispatcher sends the outbound emails seeded as approved (approved by a
  staff user holding the approve permission, through outreach.services.review) via the Celery
  worker to a loopback SMTP sink (aiosmtpd on 127.0.0.1), with AUTOSEND_ENABLED and a send window
  open around the clock. Drafts and rejected messages are seeded next to them.

Then it waits for the worker to drain and checks: every accepted webhook stored once and processed
once (and nothing stored for a bad signature); no slot double-booked; every approved message
received by the sink exactly once (by Message-ID) and marked sent, no draft or rejected message
received; no 5xx. It prints one JSON line and exits 1 if an invariant fails.

    python -m tools.soak --seconds 60            # defaults: local PostgreSQL and Redis db 11
    python -m tools.soak _seed|_check            # internal: run inside the soak's environment

One module per job: `stack` (the private database, Redis, SMTP sink and the processes), `load` (the
request generators), `seed` (the rows the load needs, made inside the soak's environment), `books`
(what the database says afterwards and the invariants), `cli` (the run and the command line).
"""

from tools.soak.cli import soak
from tools.soak.plan import OUTBOUND_APPROVED, OUTBOUND_DRAFTS, OUTBOUND_REJECTED, PROPOSALS

__all__ = ["OUTBOUND_APPROVED", "OUTBOUND_DRAFTS", "OUTBOUND_REJECTED", "PROPOSALS", "soak"]
