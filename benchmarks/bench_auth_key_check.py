"""What `--auth auto` pays per request on a key-less server: it asks the database whether any key was ever
created on every request until one was (a cached "no key yet" served a key made by `kinema keys create` in
another process as the local tenant). A declared scenario that prints a table; never a timed assertion.

    PYTHONPATH=. python benchmarks/bench_auth_key_check.py [--postgres postgresql+psycopg://...] [--calls 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial

from kinema.serving.auth import create_key, tenant_for_key
from kinema.serving.store import Store


def per_call_us(fn, calls: int) -> float:
    fn()  # a warm connection pool, as in a running server
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1e6 * (time.perf_counter() - started) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="an empty PostgreSQL database's SQLAlchemy URL (optional)")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    urls = {"sqlite": f"sqlite:///{tempfile.mkdtemp()}/jobs.db"}
    if args.postgres:
        urls["postgresql"] = args.postgres
    print("| database | ever_had_keys() µs (key-less request) | tenant_for_key() µs (keyed request) |")
    print("|---|---|---|")
    for name, url in urls.items():
        store = Store(url)
        try:
            before = per_call_us(store.keys.ever_had_keys, args.calls)
            key = create_key(store, "bench", "free")[1]
            keyed = per_call_us(partial(tenant_for_key, store.keys, key), args.calls)
        finally:
            store.dispose()
        print(f"| {name} | {before:.0f} | {keyed:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
