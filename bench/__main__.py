"""`python -m bench [--quick] [--only NAME]`: run the benchmarks, print a table,
write bench/results/latest.json. `python -m bench --scale [--events N]`: ten times the data
(bench/scale.py), apart from the other benchmarks; writes bench/results/scale.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from bench import (
    b1_append,
    b2_webhooks,
    b3_rebuild,
    b4_queries,
    b5_b6_b7,
    b8_tui,
    b9_similar,
    scale,
)
from bench.harness import Benchmark, Context, Report, commit, machine, run, server_dsn
from infra.settings import load_settings

BENCHMARKS: dict[str, Benchmark] = {
    "B1": b1_append.run,
    "B2": b2_webhooks.run,
    "B3": b3_rebuild.run,
    "B4": b4_queries.run,
    "B5": b5_b6_b7.run_b5,
    "B6": b5_b6_b7.run_b6,
    "B7": b5_b6_b7.run_b7,
    "B8": b8_tui.run,
    "B9": b9_similar.run,
}
RESULTS = Path(__file__).parent / "results" / "latest.json"
SCALE_RESULTS = RESULTS.with_name("scale.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data, same benchmarks")
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only these (repeatable)"
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="ten times the data: the scale figures at a tenth of --events and at all of them",
    )
    parser.add_argument(
        "--events", type=int, default=10_000_000, help="events of the --scale run's large size"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="--scale: generate the data again, not reuse it"
    )
    args = parser.parse_args(argv)
    if args.events < 10_000:
        parser.error("--events must be at least 10000")
    settings = load_settings()
    ctx = Context(server_dsn=server_dsn(settings.database_url), quick=args.quick)
    results = RESULTS
    if args.scale:
        print("SCALE:", flush=True)
        run(scale.run(ctx, args.events, fresh=args.fresh))
        results = SCALE_RESULTS
    else:
        for name in args.only or sorted(BENCHMARKS):
            print(f"{name}:", flush=True)
            run(BENCHMARKS[name](ctx))
    report = Report(commit=commit(), machine=machine(), quick=args.quick, results=ctx.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_bytes(msgspec.json.format(msgspec.json.encode(report)) + b"\n")
    print(f"wrote {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
