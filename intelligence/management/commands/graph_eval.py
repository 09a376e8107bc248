"""`manage.py graph_eval --edges FILE [--json]`: link-prediction quality of the knowledge graph.

FILE is a CSV of `source,relation,target` (a header row is optional). See
intelligence/graph/evaluation.py for the protocol; the table lists every predictor and
marks the one the product uses (`chosen`).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from intelligence.graph.evaluation import EvalError, evaluate, read_edges


class Command(BaseCommand):
    help = "Hide 10% of a graph's edges (seed 0) and report ROC AUC, AP, precision@k and Hits@10 of each link predictor."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--edges", required=True, help="CSV file: source,relation,target")
        parser.add_argument("--json", action="store_true", help='Print {"predictors": {name: {auc, ap, p_at_k, hits_at_10}}, "chosen": name}.')

    def handle(self, *args, **options) -> None:
        try:
            result = evaluate(read_edges(Path(options["edges"])))
        except EvalError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            payload = {"predictors": result.predictors, "chosen": result.chosen, "relation": result.relation, "nodes": result.nodes,
                       "edges": result.edges, "hidden": result.hidden}  # fmt: skip
            self.stdout.write(json.dumps(payload, indent=2))
            return
        self.stdout.write(f"{result.relation}: {result.nodes} nodes, {result.edges} edges, {result.hidden} hidden + {result.hidden} non-edges (seed 0)\n")
        self.stdout.write(f"{'predictor':<22}{'ROC AUC':>9}{'AP':>8}{'P@k':>8}{'Hits@10':>9}")
        for name, m in result.predictors.items():
            mark = "  ← chosen" if name == result.chosen else ""
            self.stdout.write(f"{name:<22}{m['auc']:>9.3f}{m['ap']:>8.3f}{m['p_at_k']:>8.3f}{m['hits_at_10']:>9.3f}{mark}")
