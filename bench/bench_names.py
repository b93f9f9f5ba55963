"""Benchmark of name search in the store at 1,000,000 contacts, in the hard name distribution too.

    python bench/bench_names.py [--contacts 1000000] [--rounds 1000] [--postgres]

Two simulators in their own processes hold `--contacts` contacts each in MoviStarSurvey: one with
its varied names ("Sofía García": a few dozen first and last names), one with `--names few-first`
(six first names and a number, "Sofia 4595": a sixth of the campaign shares each first word).
`ameyo-mcp sync` indexes each into SQLite and, with `--postgres`, into an embedded PostgreSQL.
Then `Store.search_names` (limit 20, as the tool asks) is timed for names drawn at random from each
index: the full name, the first word and a prefix of the second ("sofia 45"), and the second word
alone. Kinds, distributions and backends are interleaved round by round. Beside each figure: the
rows in the index range of the word the search walks (`Store.name_search_lead`, counted up to
its cap; the walk itself stops once it has found the 20 asked for).

Goal: store p99 ≤ 5 ms at 1,000,000 contacts, both backends, both distributions.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import SimulatorProcess, header, table
from bench_sync import PASSWORD, run_sync, start_postgres

DISTRIBUTIONS = {"varied": (), "few-first": ("--names", "few-first")}


def queries(store: Any, n: int = 400) -> dict[str, list[str]]:
    """Name searches of each kind, drawn from contacts all along the index."""
    known = store.campaign(1)
    first = store.contacts(1, limit=1)[0].customer_id
    names: list[list[str]] = []
    while len(names) < n:
        found = store.contacts(1, after=random.randint(first, first + known.contacts), limit=1)
        if found and len(words := found[0].names.split()) >= 2:
            names.append(words)
    return {
        "full name": [" ".join(w[:2]) for w in names],
        "first + prefix": [f"{w[0]} {w[1][:2]}" for w in names],
        "second word": [w[1] for w in names],
    }


Figures = dict[str, dict[str, list[float]]]


def measure(stores: dict[str, Any], rounds: int) -> tuple[Figures, Figures]:
    """Each search's time, and the rows of the range it walks (of the first 100 rounds)."""
    drawn = {name: queries(store) for name, store in stores.items()}
    times: Figures = {name: {} for name in stores}
    walks: Figures = {name: {} for name in stores}
    names = list(stores)
    for n in range(rounds):
        random.shuffle(names)
        for name in names:
            store = stores[name]
            for kind, texts in drawn[name].items():
                text = texts[n % len(texts)]
                started = time.perf_counter()
                store.search_names(1, text, limit=20)
                times[name].setdefault(kind, []).append(time.perf_counter() - started)
                if n < 100:
                    lead = store.name_search_lead(1, text)
                    walks[name].setdefault(kind, []).append(lead[1] if lead else 0)
    return times, walks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    header(f"name search in the store, {args.contacts:,} contacts, {args.rounds} rounds")
    from ameyo_mcp.store import Store
    from ameyo_mcp.store.contacts import WORD_COUNT_CAP

    work = Path(tempfile.mkdtemp(prefix="bench-names-"))
    server = None
    stores: dict[str, Any] = {}
    try:
        if args.postgres:
            server, pg_url = start_postgres(work)
        for distribution, options in DISTRIBUTIONS.items():
            with SimulatorProcess(args.contacts, PASSWORD, *options) as url:
                targets = {"SQLite": str(work / f"{distribution}.db")}
                if server is not None:
                    import psycopg

                    with psycopg.connect(pg_url, autocommit=True) as admin:
                        admin.execute(f'CREATE DATABASE "{distribution.replace("-", "_")}"')
                    targets["PostgreSQL"] = pg_url.replace(
                        "/postgres?", f"/{distribution.replace('-', '_')}?", 1
                    )
                for backend, target in targets.items():
                    report = run_sync(url, target)
                    done = f"{report['contacts']:,} in {report['elapsed_s']:.0f} s"
                    print(f"   {backend} sync, {distribution} names: {done}")
                    stores[f"{backend}, {distribution}"] = Store(target)
        times_of, walks_of = measure(stores, args.rounds)
        rows = []
        for name in stores:
            for kind, times in times_of[name].items():
                times.sort()
                walked = walks_of[name][kind]
                rows.append(
                    [
                        f"{name}: {kind}",
                        f"{statistics.median(times) * 1000:.2f} ms",
                        f"{times[int(len(times) * 0.99)] * 1000:.2f} ms",
                        f"{statistics.median(walked):.0f} / {max(walked):.0f}",
                    ]
                )
        table(
            rows,
            [
                "search (store)",
                "p50",
                "p99",
                f"leading word's range: median / max rows (counted up to {WORD_COUNT_CAP})",
            ],
        )
        print("   goal: p99 ≤ 5 ms on both backends, both distributions")
    finally:
        for store in stores.values():
            store.close()
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
