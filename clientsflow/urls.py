from django.contrib import admin
from django.urls import include, path

from calls.webhooks import fireflies_webhook, meet_participant_joined
from clientsflow import views
from leads.webhooks import lead_webhook

admin.site.site_header = "ClientsFlow"
admin.site.site_title = "ClientsFlow"
admin.site.index_title = "Pipeline administration"

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("webhooks/leads/<str:source>/", lead_webhook, name="lead-webhook"),
    path("", include("outreach.urls")),  # /webhooks/replies/, /u/<token>/ (unsubscribe)
    path("webhooks/fireflies/", fireflies_webhook, name="fireflies-webhook"),
    path("webhooks/meet/participant-joined/", meet_participant_joined, name="meet-participant-joined"),
    path("book/", include("bookings.urls")),  # /book/<slug>/, /book/manage/<token>/
    path("", include("privacy.urls")),  # /board/export.csv, /board/export.xlsx
    path("", include("leads.urls")),
    path("", include("billing.urls")),  # /p/<token>/ (proposals), /webhooks/stripe/
]
