"""Move the outbound models' content types from `leads` to `outreach`.

Permissions hang off content types, so renaming the content type keeps every permission row,
and with it every user's and group's grant (the `approve_outboundmessage` permission included),
and every admin log entry. On a fresh database there is nothing to move: the content types are
created for `outreach` after migrating.
"""

from django.conf import settings
from django.db import migrations

MODELS = ("inboundreply", "sequence", "sequencestep", "enrollment", "outboundmessage", "suppression", "imapcursor")


def _move(apps, schema_editor, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    LogEntry = apps.get_model("admin", "LogEntry")
    db = schema_editor.connection.alias
    for model in MODELS:
        old = ContentType.objects.using(db).filter(app_label=source, model=model).first()
        if old is None:
            continue
        new = ContentType.objects.using(db).filter(app_label=target, model=model).first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
            continue
        # Both exist (the new one was created by a run of `migrate` in between): keep the new
        # content type, carry each old permission's grants over to it, then drop the old one.
        for perm in Permission.objects.using(db).filter(content_type=old):
            twin = Permission.objects.using(db).filter(content_type=new, codename=perm.codename).first()
            if twin is None:
                perm.content_type = new
                perm.save(update_fields=["content_type"])
                continue
            for user in perm.user_set.all():
                user.user_permissions.add(twin)
            for group in perm.group_set.all():
                group.permissions.add(twin)
            perm.delete()
        LogEntry.objects.using(db).filter(content_type=old).update(content_type=new)
        old.delete()
    ContentType.objects.clear_cache()


def forwards(apps, schema_editor) -> None:
    _move(apps, schema_editor, "leads", "outreach")


def backwards(apps, schema_editor) -> None:
    _move(apps, schema_editor, "outreach", "leads")


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0001_initial"),
        ("leads", "0008_move_outreach_to_outreach_app"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
