"""A small market per tenant: companies in markets and regions, using technologies, some
stated competitors — enough for every query and for the learned combiner to train on."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from intelligence.graph.models import Entity
from intelligence.graph.services import UpsertEntity, UpsertRelation


@dataclass
class Market:
    tenant: object
    e: dict[str, Entity] = field(default_factory=dict)

    def add(self, kind: str, name: str, **attributes) -> Entity:
        self.e[name] = UpsertEntity(self.tenant, None, kind=kind, name=name, attributes=attributes).execute()[0]
        return self.e[name]

    def rel(self, source: str, type_: str, target: str, **kwargs):
        return UpsertRelation(self.tenant, None, source=self.e[source], target=self.e[target], type=type_, **kwargs).execute()[0]


# Two markets of four companies each; companies in one market (and region) tend to compete.
COMPANIES = {
    "Acme": ("Smart buildings", "DACH", ["LoRaWAN"]),
    "Globex": ("Smart buildings", "DACH", ["LoRaWAN", "BACnet"]),
    "Initech": ("Smart buildings", "DACH", ["BACnet"]),
    "Hooli": ("Smart buildings", "Nordics", ["LoRaWAN"]),
    "Umbrella": ("Fleet tracking", "Benelux", ["MQTT"]),
    "Stark": ("Fleet tracking", "Benelux", ["MQTT"]),
    "Wayne": ("Fleet tracking", "Benelux", ["Kafka"]),
    "Tyrell": ("Fleet tracking", "Iberia", ["Kafka", "MQTT"]),
}
COMPETES = [
    ("Acme", "Globex"),
    ("Globex", "Initech"),
    ("Umbrella", "Stark"),
    ("Stark", "Wayne"),
    ("Umbrella", "Wayne"),
    ("Acme", "Initech"),
    ("Hooli", "Globex"),
    ("Tyrell", "Wayne"),
]


def build_market(tenant) -> Market:
    m = Market(tenant)
    for name, (market_name, region, tech) in COMPANIES.items():
        m.add("company", name, region=region)
        if market_name not in m.e:
            m.add("market", market_name)
        m.rel(name, "in_market", market_name)
        for t in tech:
            if t not in m.e:
                m.add("technology", t)
            m.rel(name, "uses", t)
    for a, b in COMPETES:
        m.rel(a, "competes_with", b)
    m.rel("Hooli", "partner_of", "Tyrell")  # the one bridge between the two markets
    return m


@pytest.fixture
def market(world) -> Market:
    return build_market(world.tenant)
