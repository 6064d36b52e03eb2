from django.db import migrations


def install_builtin_prompt(apps, schema_editor):
    from classify.prompts import DEFAULT_PROMPT_NAME, DEFAULT_SYSTEM_PROMPT

    PromptVersion = apps.get_model("classify", "PromptVersion")
    if not PromptVersion.objects.filter(status="champion").exists():
        PromptVersion.objects.get_or_create(
            name=DEFAULT_PROMPT_NAME, defaults={"system_prompt": DEFAULT_SYSTEM_PROMPT, "status": "champion"}
        )


class Migration(migrations.Migration):
    dependencies = [("classify", "0001_initial")]

    operations = [migrations.RunPython(install_builtin_prompt, migrations.RunPython.noop)]
