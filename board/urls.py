from django.urls import path
from django.views.generic import RedirectView

from board import lead_views, views

app_name = "board"

urlpatterns = [
    path("", RedirectView.as_view(url="/board/", permanent=False)),
    path("board/", views.board, name="board"),
    path("board/column/<str:stage>/", views.board_column, name="board-column"),
    path("board/needs-you/", views.board_needs_you, name="board-needs-you"),
    path("board/seen/", views.board_mark_seen, name="board-mark-seen"),
    path("board/bulk/", views.board_bulk, name="board-bulk"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("board/lead/<uuid:public_id>/", views.lead_detail, name="lead-detail"),
    path("board/lead/<uuid:public_id>/card/", views.lead_card, name="lead-card"),
    path("board/lead/<uuid:public_id>/move/", views.lead_move, name="lead-move"),
    path("board/lead/<uuid:public_id>/undo/", views.lead_undo_move, name="lead-move-undo"),
    path("board/lead/<uuid:public_id>/value/", views.lead_value, name="lead-value"),
    path("board/leads/new/", lead_views.lead_new, name="lead-new"),
    path("board/next-steps/", lead_views.next_steps, name="next-steps"),
    path("board/lead/<uuid:public_id>/edit/<str:field>/", lead_views.lead_field_edit, name="lead-field-edit"),
    path("board/lead/<uuid:public_id>/notes/", lead_views.lead_note_add, name="lead-note-add"),
    path("board/lead/<uuid:public_id>/tasks/", lead_views.lead_task_add, name="lead-task-add"),
    path("board/lead/<uuid:public_id>/tasks/<int:pk>/done/", lead_views.lead_task_done, name="lead-task-done"),
    path("board/lead/<uuid:public_id>/tasks/<int:pk>/reopen/", lead_views.lead_task_reopen, name="lead-task-reopen"),
    path(
        "board/lead/<uuid:public_id>/duplicates/<int:pk>/merge/",
        views.lead_duplicate_merge,
        name="lead-duplicate-merge",
    ),
    path(
        "board/lead/<uuid:public_id>/duplicates/<int:pk>/dismiss/",
        views.lead_duplicate_dismiss,
        name="lead-duplicate-dismiss",
    ),
]
