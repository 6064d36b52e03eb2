from django.urls import path

from bookings import views

app_name = "bookings"

urlpatterns = [
    path("manage/<str:token>/", views.manage, name="manage"),
    path("staff/<int:pk>/cancel/", views.staff_cancel, name="staff-cancel"),
    path("<slug:slug>/", views.book, name="book"),
]
