from django.urls import path

from billing import views
from billing.webhooks import stripe_webhook

app_name = "billing"

urlpatterns = [
    path("p/<str:token>/", views.proposal_page, name="proposal"),
    path("p/<str:token>/sign/", views.proposal_sign_view, name="proposal-sign"),
    path("p/<str:token>/signed/", views.proposal_signed_copy, name="proposal-signed"),
    path("p/<str:token>/pdf/", views.proposal_signed_pdf, name="proposal-pdf"),
    path("p/<str:token>/pay/", views.proposal_pay, name="proposal-pay"),
    path("p/<str:token>/paid/", views.payment_success, name="payment-success"),
    path("p/<str:token>/cancelled/", views.payment_cancelled, name="payment-cancelled"),
    path("webhooks/stripe/", stripe_webhook, name="stripe-webhook"),
]
