"""`mentions` became symmetric (stored once, smaller entity id first): turn the ones stored the
other way round, merging a pair stored both ways into one (the documents of both kept)."""

from django.db import migrations


def canonical_mentions(apps, schema_editor):
    Relation = apps.get_model("intelligence", "Relation")
    for backwards in Relation.objects.filter(type="mentions").extra(where=["source_id > target_id"]).iterator():
        twin = Relation.objects.filter(tenant_id=backwards.tenant_id, source_id=backwards.target_id, target_id=backwards.source_id, type="mentions").first()
        if twin is None:
            backwards.source_id, backwards.target_id = backwards.target_id, backwards.source_id
            backwards.save(update_fields=["source", "target"])
            continue
        documents = sorted({*twin.evidence.get("documents", []), *backwards.evidence.get("documents", [])})
        twin.evidence = {**backwards.evidence, **twin.evidence, "documents": documents}
        twin.confidence = max(twin.confidence, backwards.confidence)
        twin.save(update_fields=["evidence", "confidence"])
        backwards.delete()


class Migration(migrations.Migration):
    dependencies = [("intelligence", "0006_feedback_one_vote_per_member")]

    operations = [migrations.RunPython(canonical_mentions, migrations.RunPython.noop)]
