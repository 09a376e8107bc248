"""/api/v1/graph/… and the graph pages: the access suites, then behaviour and bad input."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from circuits.tenancy.roles import Perm
from intelligence.graph.inference import infer
from intelligence.graph.models import Entity, Relation, Suggestion, SuggestionStatus
from intelligence.graph.tests.fixtures import Market, build_market
from intelligence.graph.types import kinds
from tests.access import Page, TenantAccessSuite
from tests.api.access import ApiAccessSuite, Endpoint, assert_problem
from tests.api.helpers import client_as

V = "/api/v1/graph"
pytestmark = pytest.mark.django_db


@dataclass
class Graphs:
    ours: Market
    theirs: Market
    suggestion: Suggestion
    their_suggestion: Suggestion

    def __getitem__(self, name: str) -> Entity:
        return self.ours.e[name]

    @property
    def relation(self) -> Relation:
        return Relation.objects.filter(tenant=self.ours.tenant, type="competes_with").order_by("id").first()

    @property
    def their_relation(self) -> Relation:
        return Relation.objects.filter(tenant=self.theirs.tenant).order_by("id").first()


def _graphs(world) -> Graphs:
    ours, theirs = build_market(world.tenant), build_market(world.other_tenant)
    return Graphs(ours, theirs, infer(world.tenant, limit=1)[0], infer(world.other_tenant, limit=1)[0])


def _small(tenant) -> tuple[Market, Suggestion]:
    """What the access suite needs, cheaply (it builds a fresh world per check)."""
    m = Market(tenant)
    for name in ("Acme", "Globex", "Hooli", "Stark", "Tyrell"):
        m.add("company", name)
    m.rel("Acme", "competes_with", "Globex")
    m.rel("Globex", "competes_with", "Hooli")
    suggestion = Suggestion.objects.create(
        tenant=tenant, source=m.e["Acme"], target=m.e["Hooli"], type="competes_with", score=0.5, method="adamic_adar", reason="both compete with Globex"
    )
    return m, suggestion


def _small_graphs(world) -> Graphs:
    (ours, suggestion), (theirs, their_suggestion) = _small(world.tenant), _small(world.other_tenant)
    return Graphs(ours, theirs, suggestion, their_suggestion)


def _t(o: Graphs, name: str = "Acme") -> int:
    return o.theirs.e[name].pk


ENDPOINTS = [
    Endpoint("kinds", "get", lambda o: f"{V}/kinds", Perm.VIEW),
    Endpoint("kinds", "post", lambda o: f"{V}/kinds", Perm.MANAGE_SETTINGS, lambda o: {"slug": "regulation", "label": "Regulation"}, ok=(201,)),
    Endpoint("relation-types", "get", lambda o: f"{V}/relation-types", Perm.VIEW),
    Endpoint("relation-types", "post", lambda o: f"{V}/relation-types", Perm.MANAGE_SETTINGS, lambda o: {"slug": "resells", "transitive": True}, ok=(201,)),
    Endpoint("entities", "get", lambda o: f"{V}/entities", Perm.VIEW),
    Endpoint("entities", "post", lambda o: f"{V}/entities", Perm.EDIT, lambda o: {"kind": "company", "name": "Cyberdyne"}, ok=(201,)),
    Endpoint("entity", "get", lambda o: f"{V}/entities/{o['Acme'].pk}", Perm.VIEW, cross=lambda o: f"{V}/entities/{_t(o)}"),
    Endpoint(
        "entity", "patch", lambda o: f"{V}/entities/{o['Acme'].pk}", Perm.EDIT, lambda o: {"aliases": ["ACME Inc"]}, cross=lambda o: f"{V}/entities/{_t(o)}"
    ),
    Endpoint("entity", "delete", lambda o: f"{V}/entities/{o['Tyrell'].pk}", Perm.EDIT, ok=(204,), cross=lambda o: f"{V}/entities/{_t(o)}"),
    Endpoint("neighbours", "get", lambda o: f"{V}/entities/{o['Acme'].pk}/neighbours?depth=2", Perm.VIEW, cross=lambda o: f"{V}/entities/{_t(o)}/neighbours"),
    Endpoint("subgraph", "get", lambda o: f"{V}/entities/{o['Acme'].pk}/subgraph", Perm.VIEW, cross=lambda o: f"{V}/entities/{_t(o)}/subgraph"),
    Endpoint("competitors", "get", lambda o: f"{V}/entities/{o['Hooli'].pk}/competitors", Perm.VIEW, cross=lambda o: f"{V}/entities/{_t(o)}/competitors"),
    Endpoint("path", "get", lambda o: f"{V}/path?source={o['Acme'].pk}&target={o['Hooli'].pk}", Perm.VIEW),
    Endpoint("relations", "get", lambda o: f"{V}/relations", Perm.VIEW),
    Endpoint(
        "relations", "post", lambda o: f"{V}/relations", Perm.EDIT, lambda o: {"source": o["Acme"].pk, "type": "partner_of", "target": o["Stark"].pk}, ok=(201,)
    ),
    Endpoint("relation", "get", lambda o: f"{V}/relations/{o.relation.pk}", Perm.VIEW, cross=lambda o: f"{V}/relations/{o.their_relation.pk}"),
    Endpoint("relation", "delete", lambda o: f"{V}/relations/{o.relation.pk}", Perm.EDIT, ok=(204,), cross=lambda o: f"{V}/relations/{o.their_relation.pk}"),
    Endpoint("suggestions", "get", lambda o: f"{V}/suggestions", Perm.VIEW),
    Endpoint("suggestions", "post", lambda o: f"{V}/suggestions", Perm.EDIT, lambda o: {"limit": 3}),
    Endpoint(
        "accept", "post", lambda o: f"{V}/suggestions/{o.suggestion.pk}/accept", Perm.EDIT, cross=lambda o: f"{V}/suggestions/{o.their_suggestion.pk}/accept"
    ),
    Endpoint(
        "reject", "post", lambda o: f"{V}/suggestions/{o.suggestion.pk}/reject", Perm.EDIT, cross=lambda o: f"{V}/suggestions/{o.their_suggestion.pk}/reject"
    ),
]


class TestGraphApiAccess(ApiAccessSuite):
    pages = ENDPOINTS

    @pytest.fixture
    def objs(self, world) -> Graphs:
        return _small_graphs(world)


def test_the_api_answers_queries_with_entities_relations_scores_and_reasons(world):
    g = _graphs(world)
    client = client_as(world, "viewer")
    near = client.get(f"{V}/entities/{g['Acme'].pk}/neighbours?depth=2&types=competes_with").json()
    assert {n["name"]: n["hops"] for n in near["neighbours"]} == {"Globex": 1, "Initech": 1, "Hooli": 2}
    path = client.get(f"{V}/path?source=Acme&target=Hooli&types=competes_with").json()
    assert path["found"] and [e["name"] for e in path["entities"]] == ["Acme", "Globex", "Hooli"]
    assert client.get(f"{V}/path?source=Acme&target=Umbrella&types=competes_with").json() == {"found": False, "entities": [], "relations": [], "hops": None}
    rivals = client.get(f"{V}/entities/{g['Hooli'].pk}/competitors").json()["competitors"]
    assert rivals[0]["name"] == "Globex" and all(c["reason"] for c in rivals)
    entity = client.get(f"{V}/entities/{g['Acme'].pk}").json()
    assert entity["url"] == f"/t/acme/graph/{g['Acme'].pk}" and entity["kind"] == "company"


def test_accepting_through_the_api_returns_the_new_relation_and_rejecting_keeps_it_out_of_later_runs(world):
    g = _graphs(world)
    client = client_as(world, "editor")
    body = client.post(f"{V}/suggestions/{g.suggestion.pk}/accept").json()
    assert body["suggestion"]["status"] == "accepted" and body["relation"]["origin"] == "inference"
    fresh = client.post(f"{V}/suggestions", {"limit": 5}, format="json").json()["results"]
    victim = fresh[0]
    assert client.post(f"{V}/suggestions/{victim['id']}/reject").json()["suggestion"]["status"] == "rejected"
    again = client.post(f"{V}/suggestions", {"limit": 50}, format="json").json()["results"]
    assert (victim["source"], victim["target"]) not in {(s["source"], s["target"]) for s in again}
    assert_problem(client.post(f"{V}/suggestions/{victim['id']}/accept"), 400)
    assert client.get(f"{V}/suggestions?status=rejected").json()["results"][0]["id"] == victim["id"]


def test_bad_input_is_400_naming_the_field_and_saves_nothing(world):
    g = _graphs(world)
    client = client_as(world, "editor")
    before = Relation.objects.count()
    body = assert_problem(client.post(f"{V}/relations", {"source": g["Acme"].pk, "type": "works_at", "target": g["Globex"].pk}, format="json"), 400)
    assert "works_at needs a person" in str(body["errors"])
    body = assert_problem(client.post(f"{V}/relations", {"source": g["Acme"].pk, "type": "likes", "target": g["Globex"].pk}, format="json"), 400)
    assert "Unknown relation type" in str(body["errors"])
    assert_problem(client.post(f"{V}/relations", {"source": g["Acme"].pk, "type": "competes_with", "target": _t(g)}, format="json"), 404)
    assert_problem(client.post(f"{V}/entities", {"kind": "planet", "name": "Mars"}, format="json"), 400)
    assert "kind does not change" in str(assert_problem(client.patch(f"{V}/entities/{g['Acme'].pk}", {"kind": "product"}, format="json"), 400)["errors"])
    assert "depth" in str(assert_problem(client.get(f"{V}/entities/{g['Acme'].pk}/neighbours?depth=9"), 400)["errors"])
    assert "status" in str(assert_problem(client.get(f"{V}/suggestions?status=maybe"), 400)["errors"])
    assert Relation.objects.count() == before and not Entity.objects.filter(name="Mars").exists()


def test_the_openapi_schema_documents_the_graph_endpoints(world):
    schema = client_as(world, "viewer").get("/api/schema/?format=json").json()
    for path in ("/api/v1/graph/entities", "/api/v1/graph/entities/{id}/competitors", "/api/v1/graph/path", "/api/v1/graph/suggestions/{id}/accept"):
        assert path in schema["paths"], path


PAGES = [
    Page("graph", lambda w: f"/t/{w.tenant.slug}/graph/"),
    Page("entity", lambda w: f"/t/{w.tenant.slug}/graph/{Entity.objects.get(tenant=w.tenant, name='Acme').pk}"),
    Page("suggest", lambda w: f"/t/{w.tenant.slug}/graph/{Entity.objects.get(tenant=w.tenant, name='Acme').pk}/suggest", perm="edit", method="post"),
    Page(
        "reject",
        lambda w: f"/t/{w.tenant.slug}/graph/suggestions/{Suggestion.objects.filter(tenant=w.tenant).first().pk}/reject",
        perm="edit",
        method="post",
    ),
]


class TestGraphPagesAccess(TenantAccessSuite):
    pages = PAGES

    @pytest.fixture(autouse=True)
    def graphs(self, world):
        _small(world.tenant)


def test_the_entity_page_shows_relations_competitors_and_suggestions_to_accept(world, client_for):
    g = _graphs(world)
    client = client_for(world.editor)
    page = client.get(f"/t/acme/graph/{g.suggestion.source_id}").content.decode()
    assert g.suggestion.reason.split(":")[0] in page and "Accept" in page and 'id="graph-data"' in page
    hooli = client.get(f"/t/acme/graph/{g['Hooli'].pk}").content.decode()
    assert "Competitors" in hooli and "Globex" in hooli and "shares" in hooli
    response = client.post(f"/t/acme/graph/suggestions/{g.suggestion.pk}/accept", {"entity": g.suggestion.source_id})
    assert response.status_code == 302 and Suggestion.objects.get(pk=g.suggestion.pk).status == SuggestionStatus.ACCEPTED
    assert client.get(f"/t/acme/graph/{_t(g)}").status_code == 404
    assert client.post(f"/t/acme/graph/suggestions/{g.their_suggestion.pk}/accept").status_code == 404


def test_a_tenant_defines_its_own_kinds_and_relation_types_and_uses_them(world):
    client = client_as(world, "admin")
    assert client.post(f"{V}/kinds", {"slug": "regulation", "label": "Regulation"}, format="json").status_code == 201
    assert client.post(f"{V}/relation-types", {"slug": "complies_with", "label": "complies with"}, format="json").status_code == 201
    assert client.post(f"{V}/relation-types", {"slug": "allied_with", "symmetric": True}, format="json").status_code == 201
    gdpr = client.post(f"{V}/entities", {"kind": "regulation", "name": "GDPR"}, format="json").json()
    acme = client.post(f"{V}/entities", {"kind": "company", "name": "Acme"}, format="json").json()
    globex = client.post(f"{V}/entities", {"kind": "company", "name": "Globex"}, format="json").json()
    assert client.post(f"{V}/relations", {"source": acme["id"], "type": "complies_with", "target": gdpr["id"]}, format="json").status_code == 201
    allied = client.post(f"{V}/relations", {"source": globex["id"], "type": "allied_with", "target": acme["id"]}, format="json").json()
    assert (allied["source"], allied["target"]) == (acme["id"], globex["id"])  # symmetric: stored once, smaller id first
    types = {t["slug"]: t for t in client.get(f"{V}/relation-types").json()["results"]}
    assert types["allied_with"]["symmetric"] and not types["allied_with"]["builtin"] and types["competes_with"]["builtin"]
    assert "built-in" in str(assert_problem(client.post(f"{V}/kinds", {"slug": "company"}, format="json"), 400)["errors"])
    assert "regulation" not in kinds(world.other_tenant)


def test_a_hub_entitys_page_lists_its_first_relations_and_says_how_many_there_are(world, client_for, monkeypatch):
    from intelligence.graph import views

    m = _small(world.tenant)[0]
    monkeypatch.setattr(views, "RELATIONS_SHOWN", 1)
    page = client_for(world.viewer).get(f"/t/acme/graph/{m.e['Globex'].pk}").content.decode()
    assert "the first 1 of 2" in page and page.count("<code>competes_with</code>") == 1


def test_names_and_reasons_that_look_like_markup_stay_text_on_the_entity_page(world, client_for):
    evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    m = Market(world.tenant)
    m.add("company", evil)
    m.add("company", "Globex")
    m.add("company", "Hooli")
    m.rel(evil, "competes_with", "Globex")
    m.rel("Globex", "competes_with", "Hooli")
    from intelligence.graph.services import UpsertEntity

    UpsertEntity(world.tenant, None, entity=m.e[evil], aliases=["<b>bold</b>"], attributes={"<i>k</i>": "<svg onload=alert(3)>"}).execute()
    Suggestion.objects.create(tenant=world.tenant, source=m.e[evil], target=m.e["Hooli"], type="competes_with", score=0.5, method="x", reason=evil)
    page = client_for(world.editor).get(f"/t/acme/graph/{m.e[evil].pk}").content.decode()
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "<svg onload" not in page and "<b>bold" not in page
    data = page.split('id="graph-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert "</" not in data and "<" not in data  # json_script escapes < > & inside the JSON
    import json

    assert evil in {e["name"] for e in json.loads(data)["entities"]}
