"""Starting Django loads none of the heavy libraries of the AI steps: each loads where it is used.

Every process — web, worker, beat, each management command — runs django.setup(), which imports
the action families (ML, graph, RAG steps) and through them the services. scikit-learn alone
took ~0.55 s of a 1.5 s start-up when it was imported at the top of the modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# NumPy is not here: daphne's autobahn imports it at start-up whatever the project does.
LAZY = ("sklearn", "scipy", "networkx", "skops", "onnxruntime", "trafilatura", "bm25s", "threadpoolctl")

SCRIPT = f"""
import json, sys, django
django.setup()
import actions.ml.steps, actions.graph.steps, actions.rag.steps, actions.web.scrape
import intelligence.ml.services, intelligence.graph.inference, intelligence.rag.search, intelligence.rag.ingest
loaded = sorted(m for m in {LAZY!r} if m in sys.modules)
# The thread limit, entered first in a fresh process, still bounds scikit-learn's OpenMP runtime
# (the controller only limits the libraries loaded when it scans).
from threadpoolctl import threadpool_info
from intelligence.ml.threads import limited_threads
with limited_threads():
    openmp = sorted({{info["num_threads"] for info in threadpool_info() if info["user_api"] == "openmp"}})
print(json.dumps({{"loaded": loaded, "openmp": openmp}}))
"""


def test_starting_django_and_importing_the_ai_services_loads_no_heavy_library():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert result["openmp"] == [1]  # ML_THREADS
