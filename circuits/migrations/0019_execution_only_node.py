from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("circuits", "0018_node_pinned"),
    ]

    operations = [
        migrations.AddField(
            model_name="execution",
            name="only_node",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
    ]
