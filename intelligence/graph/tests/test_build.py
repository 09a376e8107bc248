"""Building the graph from records (on each committed write) and from ingested documents
(the matcher and the cue rules), and that each source only ever feeds its own tenant."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from circuits.records.models import Record
from circuits.records.service import CreateRecord, DefineObjectType, DeleteRecord, UpdateRecord
from intelligence.graph.matcher import Matcher
from intelligence.graph.models import Entity, Origin, Relation
from intelligence.graph.services import UpsertEntity, UpsertRelation
from intelligence.rag.ingest import DeleteDocument

pytestmark = pytest.mark.django_db


@pytest.fixture
def write(django_capture_on_commit_callbacks):
    """Run a record service and its after-commit signals (the graph sync is one of their receivers)."""

    def _write(service):
        with django_capture_on_commit_callbacks(execute=True):
            return service.execute()

    return _write


def relations(tenant, type_: str) -> set[tuple[str, str]]:
    return {(r.source.name, r.target.name) for r in Relation.objects.for_tenant(tenant).filter(type=type_).select_related("source", "target")}


def test_an_account_becomes_a_company_in_its_industry_and_follows_its_renames_and_industry(world, write):
    account = write(CreateRecord(world.tenant, world.editor, "account", {"name": "Globex", "industry": "Proptech", "website": "https://globex.example"}))
    company = Entity.objects.for_tenant(world.tenant).get(record=account)
    assert (company.kind, company.name, company.origin) == ("company", "Globex", Origin.RECORD)
    assert company.attributes == {"industry": "Proptech", "website": "https://globex.example"}
    assert relations(world.tenant, "in_industry") == {("Globex", "Proptech")}
    assert Relation.objects.get(type="in_industry").evidence == {"record": account.pk, "field": "industry"}
    write(UpdateRecord(world.tenant, world.editor, account, {"name": "Globex Corp", "industry": "Energy"}))
    company.refresh_from_db()
    assert company.name == "Globex Corp" and Entity.objects.for_tenant(world.tenant).filter(kind="company").count() == 1
    assert relations(world.tenant, "in_industry") == {("Globex Corp", "Energy")}  # no longer in Proptech


def test_a_contact_works_at_its_accounts_company_and_a_product_line_makes_the_company_use_the_product(world, write):
    account = write(CreateRecord(world.tenant, world.editor, "account", {"name": "Initech"}))
    write(CreateRecord(world.tenant, world.editor, "contact", {"first_name": "Peter", "last_name": "Gibbons", "account_id": account.pk}))
    assert relations(world.tenant, "works_at") == {("Peter Gibbons", "Initech")}
    DefineObjectType(
        world.tenant, world.owner, "opportunity_product", "Opportunity product",
        [{"name": "opportunity_id", "type": "integer", "ref": "opportunity"}, {"name": "product", "type": "string"}],
    ).execute()  # fmt: skip
    opportunity = write(CreateRecord(world.tenant, world.editor, "opportunity", {"name": "Sensors for HQ", "account_id": account.pk}))
    line = write(CreateRecord(world.tenant, world.editor, "opportunity_product", {"opportunity_id": opportunity.pk, "product": "LoRa Gateway"}))
    assert relations(world.tenant, "uses") == {("Initech", "LoRa Gateway")}
    assert Entity.objects.for_tenant(world.tenant).get(name="LoRa Gateway").kind == "product"
    write(DeleteRecord(world.tenant, world.editor, line))
    assert relations(world.tenant, "uses") == set()  # the relation goes with the record that said it


def test_records_of_one_tenant_never_feed_anothers_graph(world, write):
    write(CreateRecord(world.tenant, world.editor, "account", {"name": "Globex"}))
    assert not Entity.objects.for_tenant(world.other_tenant).exists()


@pytest.fixture
def known(world):
    for kind, name, aliases in (
        ("company", "Globex", ["Globex Corporation"]),
        ("company", "Initech", []),
        ("product", "LoRa Gateway", []),
        ("company", "SAP", []),
    ):
        UpsertEntity(world.tenant, None, kind=kind, name=name, aliases=aliases).execute()
    UpsertEntity(world.other_tenant, None, kind="company", name="Hooli").execute()


def test_the_matcher_finds_names_and_aliases_at_word_boundaries_and_short_names_only_in_their_case(world, known):
    found = Matcher.for_tenant(world.tenant).find("Globex Corporation and GLOBEX met sap and SAP; Initechs is not Initech.")
    assert [(m.name, m.form, m.text) for m in found] == [
        ("Globex", "Globex Corporation", "Globex Corporation"),  # the longest form wins over "Globex"
        ("Globex", "Globex", "GLOBEX"),
        ("SAP", "SAP", "SAP"),  # "sap" is a word, not the company
        ("Initech", "Initech", "Initech"),
    ]
    assert found[0].start == 0 and found[0].end == len("Globex Corporation")


def test_a_document_relates_the_entities_it_names_by_the_cue_between_them_with_the_sentence_as_evidence(world, known, ingest):
    text = (
        "# Market notes\nGlobex Corporation competes head-on with Initech in Munich.\n"
        "Initech uses the LoRa Gateway in every building. Hooli and Globex were at the fair with Initech."
    )
    document = ingest(world.tenant, world.editor, "notes.md", text).document
    assert relations(world.tenant, "competes_with") == {("Globex", "Initech")}
    assert relations(world.tenant, "uses") == {("Initech", "LoRa Gateway")}
    assert relations(world.tenant, "mentions") == {("Globex", "Initech")}  # named together, no cue; Hooli is another tenant's
    competes = Relation.objects.for_tenant(world.tenant).get(type="competes_with")
    assert competes.origin == Origin.DOCUMENT and competes.confidence == 0.7
    assert competes.evidence["documents"] == [document.pk] and "competes head-on" in competes.evidence["sentence"]
    assert "'competes'" in competes.evidence["rule"]
    assert not Relation.objects.for_tenant(world.other_tenant).exists()


def test_reingesting_or_deleting_a_document_takes_back_what_only_it_said(world, known, ingest):
    ingest(world.tenant, world.editor, "a.md", "Globex competes with Initech.")
    document = ingest(world.tenant, world.editor, "b.md", "Globex is a rival of Initech. Initech uses LoRa Gateway.").document
    ingest(world.tenant, world.editor, "b.md", "Globex is a rival of Initech.")  # changed: no longer about the gateway
    assert relations(world.tenant, "uses") == set()
    competes = Relation.objects.for_tenant(world.tenant).get(type="competes_with")
    assert len(competes.evidence["documents"]) == 2
    DeleteDocument(world.tenant, world.editor, document).execute()
    competes.refresh_from_db()
    assert len(competes.evidence["documents"]) == 1  # still said by a.md


def test_a_hand_entered_relation_is_not_downgraded_by_a_document(world, known, ingest):
    e = {x.name: x for x in Entity.objects.for_tenant(world.tenant)}
    UpsertRelation(world.tenant, world.editor, source=e["Globex"], target=e["Initech"], type="competes_with", confidence=0.9).execute()
    ingest(world.tenant, world.editor, "c.md", "Initech competes with Globex.")
    competes = Relation.objects.for_tenant(world.tenant).get(type="competes_with")
    assert competes.origin == Origin.MANUAL and competes.confidence == 0.9 and competes.evidence["documents"]


def test_graph_sync_builds_the_graph_from_records_and_documents_written_before_it(world, ingest):
    account = Record.objects.create(tenant=world.tenant, object_type="account", data={"name": "Globex", "industry": "Proptech"})
    Record.objects.create(tenant=world.tenant, object_type="contact", data={"last_name": "Gibbons", "first_name": "Peter", "account_id": account.pk})
    UpsertEntity(world.tenant, None, kind="company", name="Initech").execute()
    ingest(world.tenant, world.editor, "n.md", "Globex competes with Initech.")  # before Globex was in the graph: no relation yet
    assert not relations(world.tenant, "competes_with")
    out = StringIO()
    call_command("graph_sync", "--tenant", world.tenant.slug, stdout=out)
    assert "acme: 2 records, 1 documents read" in out.getvalue()
    assert relations(world.tenant, "works_at") == {("Peter Gibbons", "Globex")} and {frozenset(p) for p in relations(world.tenant, "competes_with")} == {
        frozenset(("Globex", "Initech"))
    }
    assert not Entity.objects.for_tenant(world.other_tenant).exists()


def test_the_matcher_ignores_punctuation_and_spacing_inside_a_name_and_finds_one_among_twenty_thousand():
    matcher = Matcher([(1, "company", "Globex, Inc.", []), *((i, "company", f"Company {i:05d}", []) for i in range(2, 20_000))])
    found = matcher.find("Yesterday Globex  Inc announced a deal with Company 00042.")
    assert [(m.entity_id, m.text) for m in found] == [(1, "Globex  Inc"), (42, "Company 00042")]


def test_an_alias_that_is_another_entitys_name_never_takes_its_mentions():
    # Acme (older) carries "Globex" as an alias; Globex's own name still names Globex.
    matcher = Matcher([(1, "company", "Acme", ["Globex", "Acme Corp"]), (2, "company", "Globex", [])])
    assert [(m.entity_id, m.form) for m in matcher.find("Globex met Acme Corp.")] == [(2, "Globex"), (1, "Acme Corp")]
    shuffled = Matcher([(2, "company", "Globex", []), (1, "company", "Acme", ["Globex"])])
    assert [m.entity_id for m in shuffled.find("Globex")] == [2]


def test_an_alias_may_not_be_the_name_of_another_entity_of_its_kind(world):
    from django.core.exceptions import ValidationError

    t = world.tenant
    acme = UpsertEntity(t, None, kind="company", name="Acme").execute()[0]
    globex = UpsertEntity(t, None, kind="company", name="Globex").execute()[0]
    UpsertEntity(t, None, kind="technology", name="LoRaWAN").execute()
    with pytest.raises(ValidationError, match=rf"'GLOBEX' is the name of another company \(#{globex.pk}\)"):
        UpsertEntity(t, None, entity=acme, aliases=["Acme Corp", "GLOBEX"]).execute()
    with pytest.raises(ValidationError, match="is the name of another company"):
        UpsertEntity(t, None, kind="company", name="acme", aliases=["Globex"]).execute()  # the upsert of Acme by its name
    acme.refresh_from_db()
    assert acme.aliases == []  # nothing half-saved
    UpsertEntity(t, None, entity=acme, aliases=["Acme Corp", "LoRaWAN"]).execute()  # another kind's name is no clash
    assert UpsertEntity(t, None, kind="company", name="Acme", aliases=["ACME"]).execute()[0].aliases == ["Acme Corp", "LoRaWAN"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "Glo\x00bex"}, "name.*NUL"),
        ({"name": "Globex", "aliases": ["Glo\x00bex"]}, "aliases.*NUL"),
        ({"name": "Globex", "attributes": {"notes": "x" * 1001}}, "notes: a text has at most 1000 characters"),
        ({"name": "Globex", "attributes": {"tags": ["a"] * 51}}, "tags: a list has at most 50 items"),
        ({"name": "Globex", "attributes": {"tags": [["a"]]}}, "tags: a list holds text, numbers or booleans"),
        ({"name": "Globex", "attributes": {"k" * 101: 1}}, "An attribute's name is text of 1 to 100 characters"),
        ({"name": "Globex", "attributes": {"score": float("nan")}}, "score: a number is finite"),
        ({"name": "Globex", "attributes": {"region": "DA\x00CH"}}, "attributes.*NUL"),
    ],
    ids=["nul-name", "nul-alias", "long-text", "long-list", "nested-list", "long-key", "nan", "nul-attribute"],
)
def test_an_entity_with_a_nul_an_oversized_or_a_nested_value_is_refused_naming_the_field(world, fields, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match=message):
        UpsertEntity(world.tenant, None, kind="company", **fields).execute()
    assert not Entity.objects.for_tenant(world.tenant).exists()


def test_the_api_refuses_an_alias_taken_by_another_entity_with_a_400_naming_aliases(world):
    from tests.api.access import assert_problem
    from tests.api.helpers import client_as

    UpsertEntity(world.tenant, None, kind="company", name="Globex").execute()
    acme = UpsertEntity(world.tenant, None, kind="company", name="Acme").execute()[0]
    body = assert_problem(client_as(world, "editor").patch(f"/api/v1/graph/entities/{acme.pk}", {"aliases": ["Globex"]}, format="json"), 400)
    assert "aliases" in body["errors"]


def test_an_account_with_an_overlong_name_or_an_odd_field_is_synced_with_what_an_entity_holds(world):
    from intelligence.graph.sync import sync_record

    long_name = "Globex " + "x" * 300
    data = {"name": long_name, "industry": "Proptech", "website": "w" * 2000, "tier": {"level": 1}, "employees": 40}
    record = Record.objects.create(tenant=world.tenant, object_type="account", data=data)  # as an import may leave it
    sync_record(world.tenant, record.pk, "account", "updated", data)
    company = Entity.objects.for_tenant(world.tenant).get(kind="company")
    assert company.name == long_name[:200] and company.attributes == {"industry": "Proptech", "employees": 40}
    assert relations(world.tenant, "in_industry") == {(company.name, "Proptech")}


def test_graph_sync_goes_on_past_a_record_it_cannot_sync_and_says_which(world):
    Record.objects.create(tenant=world.tenant, object_type="account", data={"name": "!!!"})  # no letters: no entity can be called that
    Record.objects.create(tenant=world.tenant, object_type="account", data={"name": "Globex"})
    out, err = StringIO(), StringIO()
    call_command("graph_sync", "--tenant", world.tenant.slug, stdout=out, stderr=err)
    assert "acme: 2 records, 0 documents read, 1 records skipped" in out.getvalue()
    assert "skipped account" in err.getvalue() and "letters or digits" in err.getvalue()
    assert list(Entity.objects.for_tenant(world.tenant).values_list("name", flat=True)) == ["Globex"]


def test_two_documents_naming_a_pair_in_either_order_make_one_mention_with_both_as_evidence(world, known, ingest):
    first = ingest(world.tenant, world.editor, "a.md", "Globex and Initech were at the fair.").document
    second = ingest(world.tenant, world.editor, "b.md", "Initech and Globex shared a stand.").document
    mentions = list(Relation.objects.for_tenant(world.tenant).filter(type="mentions"))
    assert len(mentions) == 1 and mentions[0].source_id < mentions[0].target_id
    assert mentions[0].evidence["documents"] == sorted([first.pk, second.pk])


def test_a_document_saying_the_reverse_of_a_directed_relation_does_not_lend_it_its_evidence(world, known, ingest):
    e = {x.name: x for x in Entity.objects.for_tenant(world.tenant)}
    ingest(world.tenant, world.editor, "a.md", "Globex invested in Initech.")
    document = ingest(world.tenant, world.editor, "b.md", "Initech invested in Globex.").document
    ahead = Relation.objects.for_tenant(world.tenant).get(type="invested_in", source=e["Globex"])
    back = Relation.objects.for_tenant(world.tenant).get(type="invested_in", source=e["Initech"])
    assert back.evidence["documents"] == [document.pk] and document.pk not in ahead.evidence["documents"]
    DeleteDocument(world.tenant, world.editor, document).execute()
    assert not Relation.objects.filter(pk=back.pk).exists() and Relation.objects.filter(pk=ahead.pk).exists()


def test_names_far_apart_in_one_endless_sentence_are_not_related_and_a_near_pair_keeps_its_stretch_as_evidence():
    from intelligence.graph.sync import extract

    matcher = Matcher([(1, "company", "Globex", []), (2, "company", "Initech", []), (3, "company", "Hooli", [])])
    filler = "word " * 20_000
    text = f"Globex {filler} Initech {filler} Hooli competes with Globex {filler}"  # no full stop anywhere
    found = extract(text, matcher)
    assert [(f.source.entity_id, f.type, f.target.entity_id) for f in found] == [(3, "competes_with", 1)]
    assert "Hooli competes with Globex" in found[0].sentence and len(found[0].sentence) < 300 and found[0].sentence.startswith("…")


def test_the_migration_stores_old_mentions_once_in_order_merging_a_pair_stored_both_ways(world):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("intelligence.migrations.0007_graph_mentions_symmetric")
    a, b, c = (UpsertEntity(world.tenant, None, kind="company", name=n).execute()[0] for n in ("A", "B", "C"))
    Relation.objects.create(tenant=world.tenant, source=a, target=b, type="mentions", confidence=0.3, evidence={"documents": [1]})
    Relation.objects.create(tenant=world.tenant, source=b, target=a, type="mentions", confidence=0.3, evidence={"documents": [2]})
    Relation.objects.create(tenant=world.tenant, source=c, target=a, type="mentions", confidence=0.3, evidence={"documents": [3]})
    migration.canonical_mentions(apps, None)
    stored = {(r.source_id, r.target_id): r.evidence["documents"] for r in Relation.objects.filter(type="mentions")}
    assert stored == {(a.pk, b.pk): [1, 2], (a.pk, c.pk): [3]}


def test_forgetting_a_document_reads_only_the_relations_it_supported(world, known, monkeypatch):
    from intelligence.graph.sync import forget_document

    e = {x.name: x for x in Entity.objects.for_tenant(world.tenant)}
    for i, (a, b) in enumerate((("Globex", "Initech"), ("Globex", "SAP"), ("Initech", "SAP"))):
        UpsertRelation(world.tenant, None, source=e[a], target=e[b], type="mentions", origin=Origin.DOCUMENT, evidence={"documents": [100 + i]}).execute()
    read: list[int] = []
    real = Relation.from_db.__func__
    monkeypatch.setattr(Relation, "from_db", classmethod(lambda cls, *args: read.append(1) or real(cls, *args)))
    forget_document(world.tenant, 101)
    assert len(read) == 1 and Relation.objects.for_tenant(world.tenant).count() == 2
