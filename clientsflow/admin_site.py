"""The admin as the owner's product: sections in the order the work happens, the scheduler's and
the webhook plumbing's models in a "System" section only superusers see, and an index that leads
with what needs the owner (see templates/admin/index.html).

Installed as Django's default site (`clientsflow.apps.ClientsFlowAdminConfig`), so every app's
`@admin.register`, django-celery-beat's and django-axes' included, registers here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.db.models.base import ModelBase
from django.http import HttpRequest

# Plumbing the owner never needs: superusers only, grouped under "System".
SYSTEM_MODELS = frozenset(
    {
        "django_celery_beat.periodictask",
        "django_celery_beat.crontabschedule",
        "django_celery_beat.intervalschedule",
        "django_celery_beat.clockedschedule",
        "django_celery_beat.solarschedule",
        "bookings.hold",
        "clientsflow.jobrun",
        "clientsflow.webhookevent",
        "clientsflow.integrationstatus",
        "axes.accessattempt",
        "axes.accesslog",
        "axes.accessfailurelog",
        "outreach.imapcursor",
    }
)
SYSTEM_SECTION = "System"

# Sections in the order the pipeline runs; anything not named follows, then "System".
SECTION_ORDER = ["leads", "outreach", "classify", "bookings", "calls", "billing", "privacy", "clientsflow", "auth"]
SECTION_NAMES = {"clientsflow": "Settings and activity log", "auth": "Staff accounts and roles"}


class SystemModelAdmin(admin.ModelAdmin):
    """Superusers only, whatever the model permissions say: these rows run the machinery."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_superuser) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_delete_permission(request, obj)


def is_system_model(model: type[Model]) -> bool:
    return model._meta.label_lower in SYSTEM_MODELS


class ClientsFlowAdminSite(admin.AdminSite):
    site_header = "ClientsFlow"
    site_title = "ClientsFlow"
    index_title = "Your pipeline"

    def register(
        self,
        model_or_iterable: ModelBase | Iterable[ModelBase],
        admin_class: type[admin.ModelAdmin] | None = None,
        **options: Any,
    ) -> None:
        models = [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else list(model_or_iterable)
        for model in models:
            chosen = admin_class or admin.ModelAdmin
            if is_system_model(model) and not issubclass(chosen, SystemModelAdmin):  # type: ignore[arg-type]
                chosen = type(f"System{chosen.__name__}", (SystemModelAdmin, chosen), {})
            super().register(model, chosen, **options)  # type: ignore[arg-type]

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        app_list = super().get_app_list(request, app_label)
        if app_label is not None:
            return app_list
        sections: list[dict[str, Any]] = []
        system_models: list[dict[str, Any]] = []
        for app in app_list:
            kept = [m for m in app["models"] if not is_system_model(m["model"])]
            system_models += [m for m in app["models"] if is_system_model(m["model"])]
            if kept:
                sections.append({**app, "name": SECTION_NAMES.get(app["app_label"], app["name"]), "models": kept})
        order = {label: index for index, label in enumerate(SECTION_ORDER)}
        sections.sort(key=lambda app: (order.get(app["app_label"], len(order)), app["name"]))
        if system_models:
            system_models.sort(key=lambda m: m["name"])
            sections.append(
                {
                    "name": SYSTEM_SECTION,
                    "app_label": "system",
                    "app_url": system_models[0]["admin_url"],
                    "has_module_perms": True,
                    "models": system_models,
                }
            )
        return sections
