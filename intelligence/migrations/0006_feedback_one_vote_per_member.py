from django.conf import settings
from django.db import migrations, models


def keep_each_members_latest_vote(apps, schema_editor):
    """Before the constraint: of a member's several votes on one chunk, the latest stands."""
    Feedback = apps.get_model("intelligence", "Feedback")
    seen: set[tuple[int, int, int]] = set()
    extra: list[int] = []
    rows = Feedback.objects.filter(user__isnull=False).order_by("-created_at", "-pk").values_list("pk", "tenant_id", "chunk_id", "user_id")
    for pk, *key in rows.iterator():
        if tuple(key) in seen:
            extra.append(pk)
        else:
            seen.add(tuple(key))
    Feedback.objects.filter(pk__in=extra).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("intelligence", "0005_graph"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(keep_each_members_latest_vote, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="feedback",
            constraint=models.UniqueConstraint(
                condition=models.Q(("user__isnull", False)), fields=("tenant", "chunk", "user"), name="rag_feedback_one_vote_per_member"
            ),
        ),
    ]
