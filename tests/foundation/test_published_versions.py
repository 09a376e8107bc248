"""Published versions are immutable in the model itself (saves, querysets, bulk writes) and read-only in the admin."""

from __future__ import annotations

import pytest

from circuits.automation.models.version import CircuitVersion, Edge, Node, PublishedVersionImmutable
from circuits.automation.services.versions import PublishDraft, Rollback, SaveDraft
from tests.engine.helpers import build, chain, node, published

pytestmark = pytest.mark.django_db


def _published(world):
    circuit = build(world, "frozen", [node("a", "util.transform", {"template": "1"}), node("b", "util.transform", {"template": "2"})], chain("a", "b"))
    return circuit, published(circuit)


def test_changing_a_published_versions_identity_or_sending_it_back_to_draft_is_refused(world):
    _circuit, version = _published(world)
    version.number = 99
    with pytest.raises(PublishedVersionImmutable, match="Version 1 of this circuit was published, so its number cannot change"):
        version.save()
    version.refresh_from_db()
    version.status = "draft"
    with pytest.raises(PublishedVersionImmutable, match="status"):
        version.save()
    with pytest.raises(PublishedVersionImmutable):
        CircuitVersion.objects.filter(pk=version.pk).update(revision=7)
    with pytest.raises(PublishedVersionImmutable):
        CircuitVersion.objects.filter(pk=version.pk).update(status="draft")
    with pytest.raises(PublishedVersionImmutable, match="existence"):
        CircuitVersion.objects.get(pk=version.pk).delete()
    with pytest.raises(PublishedVersionImmutable):
        CircuitVersion.objects.filter(pk=version.pk).delete()
    stored = CircuitVersion.objects.get(pk=version.pk)
    assert (stored.number, stored.status, stored.revision) == (1, "published", version.revision)


def test_a_published_versions_nodes_and_edges_refuse_every_kind_of_write(world):
    _circuit, version = _published(world)
    first = version.nodes.get(key="a")
    first.config = {"template": "changed"}
    with pytest.raises(PublishedVersionImmutable, match="graph"):
        first.save()
    with pytest.raises(PublishedVersionImmutable):
        Node.objects.create(version=version, key="c", action="util.transform")
    with pytest.raises(PublishedVersionImmutable):
        Node.objects.bulk_create([Node(version=version, key="d", action="util.transform")])
    with pytest.raises(PublishedVersionImmutable):
        version.nodes.update(label="x")
    with pytest.raises(PublishedVersionImmutable):
        Node.objects.bulk_update([first], ["config"])
    with pytest.raises(PublishedVersionImmutable):
        version.edges.all().delete()
    with pytest.raises(PublishedVersionImmutable):
        version.edges.first().delete()
    with pytest.raises(PublishedVersionImmutable):
        Edge.objects.create(version=version, source=None, target=first)
    assert sorted(version.nodes.values_list("key", "config")) == [("a", {"template": "1"}), ("b", {"template": "2"})]
    assert version.edges.count() == 2


def test_drafts_stay_editable_and_publishing_archiving_and_rolling_back_still_work(world):
    circuit, v1 = _published(world)
    SaveDraft(world.tenant, world.owner, circuit, {"nodes": [node("only", "util.transform", {"template": "3"})], "edges": chain("only")}).execute()
    draft = circuit.versions.get(status="draft")
    draft.nodes.update(label="editable")  # a draft's graph may change
    PublishDraft(world.tenant, world.owner, circuit).execute()
    v1.refresh_from_db()
    assert v1.status == "archived" and sorted(v1.nodes.values_list("key", flat=True)) == ["a", "b"]
    Rollback(world.tenant, world.owner, circuit, 1).execute()
    assert published(circuit).pk == v1.pk
    # Deleting the whole circuit still removes its versions (the cascade is not a direct delete).
    circuit.delete()
    assert not CircuitVersion.objects.filter(pk=v1.pk).exists()


def test_the_admin_shows_a_published_version_read_only_and_refuses_a_change(admin_client, world):
    _circuit, version = _published(world)
    url = f"/admin/circuits/circuitversion/{version.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="number"' not in html and 'name="nodes-0-key"' not in html and 'name="_save"' not in html
    assert admin_client.post(url, {"number": 5, "status": "draft"}).status_code == 403
    assert admin_client.post(f"/admin/circuits/circuitversion/{version.pk}/delete/", {"post": "yes"}).status_code == 403
    node_page = admin_client.get(f"/admin/circuits/node/{version.nodes.first().pk}/change/").content.decode()
    assert 'name="config"' not in node_page
    version.refresh_from_db()
    assert (version.number, version.status) == (1, "published")


def test_nodes_and_edges_cannot_be_moved_into_or_out_of_a_published_version(world):
    circuit, version = _published(world)
    SaveDraft(world.tenant, world.owner, circuit, {"nodes": [node("x", "util.transform", {"template": "3"})], "edges": chain("x")}).execute()
    draft = circuit.versions.get(status="draft")
    with pytest.raises(PublishedVersionImmutable):
        draft.nodes.update(version=version)  # into the published graph, by a queryset update
    with pytest.raises(PublishedVersionImmutable):
        Node.objects.filter(version=draft).update(version_id=version.pk)
    with pytest.raises(PublishedVersionImmutable):
        draft.edges.update(version=version)
    moved = version.nodes.get(key="a")
    moved.version = draft
    with pytest.raises(PublishedVersionImmutable):
        moved.save()  # out of the published graph, by saving a row with another version
    edge = version.edges.first()
    edge.version = draft
    with pytest.raises(PublishedVersionImmutable):
        edge.save()
    assert sorted(version.nodes.values_list("key", flat=True)) == ["a", "b"] and version.edges.count() == 2
    assert list(draft.nodes.values_list("key", flat=True)) == ["x"]
