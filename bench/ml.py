"""Models on records: `python -m bench ml` trains on the shipped CRM table (4,000 leads) through
`ml_eval` with the production settings (full grids, 5 folds, 150 trees) and prints its table:
training time (< 60 s on 2 cores), prediction latency (< 20 ms), ECE (< 0.05) and the gap to
the best family refitted by hand (≤ 0.01). ML_BENCH_CSV/TARGET/POSITIVE point it at another table.
"""

from __future__ import annotations

import os

from bench.common import ROOT, heading

PRODUCTION = {"ML_GRIDS": None, "ML_FOREST_TREES": 150, "ML_CV_FOLDS": 5, "ML_BOOTSTRAP_DRAWS": 1000, "ML_IMPORTANCE_REPEATS": 3, "ML_JOBS": 1}


def main() -> None:
    from django.core.management import call_command
    from django.test.utils import override_settings

    heading("ml: AutoML on a labelled table (ml_eval)")
    csv = os.environ.get("ML_BENCH_CSV", str(ROOT / "intelligence" / "ml" / "data" / "crm_leads.csv"))
    with override_settings(**PRODUCTION):
        call_command("ml_eval", csv=csv, target=os.environ.get("ML_BENCH_TARGET", "converted"), positive=os.environ.get("ML_BENCH_POSITIVE", "yes"))
