from django.contrib import admin
from django.urls import include, path

from clientsflow import views
from leads.webhooks import lead_webhook

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("brand.css", views.brand_css, name="brand-css"),
    path("media/branding/<path:name>", views.branding_file, name="branding-file"),
    path("webhooks/leads/<str:source>/", lead_webhook, name="lead-webhook"),
    path("", include("outreach.urls")),  # /webhooks/replies/, /u/<token>/ (unsubscribe)
    path("", include("calls.urls")),  # /webhooks/fireflies/, /webhooks/meet/participant-joined/
    path("book/", include("bookings.urls")),  # /book/<slug>/, /book/manage/<token>/
    path("", include("board.urls")),  # /board/ and the lead page
    path("", include("privacy.urls")),  # /board/export.csv, /board/export.xlsx
    path("", include("billing.urls")),  # /p/<token>/ (proposals), /webhooks/stripe/
    path("reports/", include("reports.urls")),  # /reports/ and one page per report
]
