from django.urls import path

from outreach.views import unsubscribe
from outreach.webhooks import replies_webhook

# Named without a namespace: the names are part of every sent email's unsubscribe link.
urlpatterns = [
    path("webhooks/replies/", replies_webhook, name="replies-webhook"),
    path("u/<str:token>/", unsubscribe, name="unsubscribe"),
]
