"""The staff roles "Owner", "Assistant" and "Viewer" (see leads/staff_groups.py)."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

from leads.staff_groups import staff_groups_sync


def create_groups(apps, schema_editor):
    # On a fresh database permissions are only created after all migrations (post_migrate):
    # create them now, for every installed app's current models, so the roles get them all.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=schema_editor.connection.alias)
    staff_groups_sync(
        group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission")
    )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Owner", "Assistant", "Viewer"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("leads", "0006_possible_duplicates"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
