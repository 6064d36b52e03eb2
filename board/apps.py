from django.apps import AppConfig


class BoardConfig(AppConfig):
    """The owner's board and the lead page, on top of every other app: it reads each app's
    selectors by name and renders them."""

    name = "board"
    default_auto_field = "django.db.models.BigAutoField"
