"""The knowledge graph at scale: query latency and inference time in one big tenant.

`python -m bench graph` (GRAPH_BENCH_COMPANIES, default 20,000 companies, in markets of ~15,
industries, regions and technologies like intelligence/graph/eval/generate.py, about two
competes_with each; bulk-loaded). Reported: neighbours at depth 1–3 (the recursive CTE),
shortest path, competitors of a company, and Infer Relationships for one company (which loads
the tenant's graph and trains the combiner each time) and for the whole tenant (bounded candidates).
"""

from __future__ import annotations

import os
import random
import time

from bench.common import bench_world, heading, report, timed


def _populate(tenant, companies: int, rng: random.Random) -> list[int]:
    from intelligence.graph.models import Entity, Relation
    from intelligence.graph.types import normalize

    markets, industries, regions, techs = max(1, companies // 15), 12, 8, 60

    def make(kind: str, names: list[str]) -> list[int]:
        rows = Entity.objects.bulk_create((Entity(tenant=tenant, kind=kind, name=n, key=normalize(n)) for n in names), batch_size=2000)
        return [e.pk for e in rows]

    company_ids = make("company", [f"Company {i:06d}" for i in range(companies)])
    market_ids = make("market", [f"Market {i}" for i in range(markets)])
    industry_ids = make("industry", [f"Industry {i}" for i in range(industries)])
    region_ids = make("region", [f"Region {i}" for i in range(regions)])
    tech_ids = make("technology", [f"Tech {i}" for i in range(techs)])
    members: dict[int, list[int]] = {}
    relations = []
    for c in company_ids:
        m = rng.randrange(markets)
        members.setdefault(m, []).append(c)
        relations += [
            Relation(tenant=tenant, source_id=c, target_id=market_ids[m], type="in_market"),
            Relation(tenant=tenant, source_id=c, target_id=industry_ids[m % industries], type="in_industry"),
            Relation(tenant=tenant, source_id=c, target_id=region_ids[rng.randrange(regions)], type="in_region"),
            *(Relation(tenant=tenant, source_id=c, target_id=t, type="uses") for t in rng.sample(tech_ids, 2)),
        ]
    seen = set()
    for group in members.values():
        for c in group:
            for other in rng.sample(group, min(len(group), 2)):
                key = (min(c, other), max(c, other))
                if c != other and key not in seen and rng.random() < 0.5:
                    seen.add(key)
                    relations.append(Relation(tenant=tenant, source_id=key[0], target_id=key[1], type="competes_with"))
    Relation.objects.bulk_create(relations, batch_size=5000)
    return company_ids


def main() -> None:
    from django.db import connection

    from intelligence.graph.inference import infer
    from intelligence.graph.models import Entity, Relation
    from intelligence.graph.queries import competitors, neighbours, shortest_path

    count = int(os.environ.get("GRAPH_BENCH_COMPANIES", "20000"))
    heading(f"graph: {count:,} companies in one tenant ({connection.vendor})")
    tenant, _ = bench_world("graph")
    Relation.objects.filter(tenant=tenant).delete()
    Entity.objects.filter(tenant=tenant).delete()
    rng = random.Random(7)
    started = time.perf_counter()
    companies = _populate(tenant, count, rng)
    print(f"loaded {Entity.objects.filter(tenant=tenant).count():,} entities, {Relation.objects.filter(tenant=tenant).count():,} relations "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    entities = {e.pk: e for e in Entity.objects.filter(pk__in=rng.sample(companies, 40))}
    picks = list(entities.values())
    for depth in (1, 2, 3):
        it = iter(picks * 10)
        report(f"neighbours depth {depth} (all types)", timed(lambda d=depth, it=it: neighbours(tenant, next(it), d), 20))
    it = iter(picks * 10)
    report("neighbours depth 3 (competes_with only)", timed(lambda: neighbours(tenant, next(it), 3, ["competes_with"]), 20))
    pairs = iter(list(zip(picks, reversed(picks), strict=True)) * 10)
    report("shortest path (up to 4 hops)", timed(lambda: shortest_path(tenant, *next(pairs)), 20))
    it = iter(picks * 10)
    report("competitors of a company", timed(lambda: competitors(tenant, next(it)), 20))
    it = iter(picks * 10)
    report("infer relationships for one company", timed(lambda: infer(tenant, entity=next(it), limit=10, save=False), 3), unit="ms")
    report("infer relationships for the whole tenant", timed(lambda: infer(tenant, limit=10, save=False), 1), unit="ms")
