from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("board/export.csv", views.board_export_csv, name="board-export-csv"),
    path("board/export.xlsx", views.board_export_xlsx, name="board-export-xlsx"),
]
