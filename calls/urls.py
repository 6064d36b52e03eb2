from django.urls import path

from calls.webhooks import fireflies_webhook, meet_participant_joined

urlpatterns = [
    path("webhooks/fireflies/", fireflies_webhook, name="fireflies-webhook"),
    path("webhooks/meet/participant-joined/", meet_participant_joined, name="meet-participant-joined"),
]
