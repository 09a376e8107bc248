"""Writes competitors.csv: a sparse synthetic competitor graph with the facets that explain it.

    python -m intelligence.graph.eval.generate [OUT]   (seed fixed: the same file every time)

240 companies in 6 industries (3 markets each), 5 regions, 20 technologies (each industry
favours 4). Two companies compete with a probability that grows with a shared market,
region and technologies — as in real markets — so competes_with is sparse (about two per
company) and few pairs share a competitor, while the facets carry most of the signal.
"""

from __future__ import annotations

import csv
import itertools
import random
import sys
from pathlib import Path

SEED = 7
COMPANIES = 240
INDUSTRIES = ["Proptech", "Fintech", "Healthtech", "Logistics", "Energy", "Retail software"]
REGIONS = ["Nordics", "DACH", "Benelux", "Iberia", "UK and Ireland"]
TECH = [f"{t}" for t in (
    "LoRaWAN", "Zigbee", "BACnet", "Kafka", "PostgreSQL", "Snowflake", "FHIR", "HL7", "Kubernetes", "Rust",
    "OPC UA", "Modbus", "GraphQL", "Stripe", "SAP", "Salesforce", "TensorFlow", "Edge TPU", "MQTT", "Shopify",
)]  # fmt: skip
_SYLLABLES = ["ka", "lo", "mi", "ven", "tor", "ra", "zen", "qui", "bel", "dor", "sa", "nix", "ter", "vo", "lu", "pax", "cor", "fi"]
_SUFFIXES = ["Systems", "Labs", "Group", "AG", "Analytics", "Networks", "Works", "Technologies"]


def generate(seed: int = SEED) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    names: set[str] = set()
    companies = []
    while len(companies) < COMPANIES:
        name = ("".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3))))).capitalize() + " " + rng.choice(_SUFFIXES)
        if name in names:
            continue
        names.add(name)
        industry = rng.randrange(len(INDUSTRIES))
        favoured = TECH[industry * 3 : industry * 3 + 4]
        tech = set(rng.sample(favoured, 2)) | ({rng.choice(TECH)} if rng.random() < 0.3 else set())
        companies.append({"name": name, "industry": industry, "market": industry * 3 + rng.randrange(3), "region": rng.randrange(len(REGIONS)), "tech": tech})
    edges: list[tuple[str, str, str]] = []
    for c in companies:
        industry = INDUSTRIES[c["industry"]]
        edges.append((c["name"], "in_industry", industry))
        edges.append((c["name"], "in_market", f"{industry} market {c['market'] % 3 + 1}"))
        edges.append((c["name"], "in_region", REGIONS[c["region"]]))
        edges += [(c["name"], "uses", t) for t in sorted(c["tech"])]
    for a, b in itertools.combinations(companies, 2):
        if a["market"] == b["market"]:
            p = 0.06
        elif a["industry"] == b["industry"]:
            p = 0.008
        else:
            p = 0.0008
        if a["region"] == b["region"]:
            p *= 3.5
        p *= 1.6 ** len(a["tech"] & b["tech"])
        if rng.random() < min(p, 0.9):
            edges.append((a["name"], "competes_with", b["name"]))
    return edges


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("competitors.csv")
    edges = generate()
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["source", "relation", "target"])
        writer.writerows(edges)
    competes = sum(1 for e in edges if e[1] == "competes_with")
    print(f"{out}: {len(edges)} edges, {competes} competes_with among {COMPANIES} companies")


if __name__ == "__main__":
    main()
