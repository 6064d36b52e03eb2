from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.report_index, name="index"),
    path("<slug:slug>.csv", views.report_download_csv, name="csv"),
    path("<slug:slug>/", views.report_detail, name="detail"),
]
