"""Run the benchmarks: `python -m bench` (all) or `python -m bench engine pages` (`webhook --vs-node-red`: side by side)."""

import importlib
import sys

from bench.common import setup_django

ALL = ["engine", "queue", "webhook", "fanout", "websocket", "pages", "rss"]

if __name__ == "__main__":
    names = [name for name in sys.argv[1:] if not name.startswith("--")] or ALL  # options are the benchmarks' own
    if "retention" in names:  # PostgreSQL only, not in ALL: its own throwaway database, chosen before Django starts
        from bench.retention import use_throwaway_database

        use_throwaway_database()
    setup_django()
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"\n== {name}: no such benchmark")
                continue
            raise
        module.main()
