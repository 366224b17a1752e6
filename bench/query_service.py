"""Query-service latency: p50/p99 of name searches and profile reads at 20 concurrent clients.

    python -m bench.query_service --profiles 100000 --clients 20 --requests 2000

Builds a store of ``--profiles`` profiles (the residents of a simulated district, resolved by the
real resolver and projected, then copied under new ids and names by the projection's own writer),
serves it with uvicorn in a separate process on loopback, and drives it with concurrent httpx
clients holding a steward's bearer token. Every request is a real audited read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select

STORE_ENV = "BENCH_QUERY_STORE"  # not a hub setting (no ONCEONLY_ prefix)
KEY = "bench-key"


def app_from_env():  # type: ignore[no-untyped-def]
    """The uvicorn factory: the real app over the bench store."""
    from api.app import create_app
    from onceonly.settings import Settings
    from store.engine import make_engine

    settings = Settings(data_dir=Path(os.environ[STORE_ENV]).parent, id_hash_key=KEY, _env_file=None)  # type: ignore[call-arg]
    return create_app(make_engine(f"sqlite:///{os.environ[STORE_ENV]}"), [], settings)


def build_store(path: Path, n: int) -> tuple[list[str], list[str]]:
    from core.matching import default_matcher
    from core.profile import Profile
    from store.engine import make_engine
    from store.profile_projection import ProfileProjection
    from store.profile_tables import profiles
    from store.resolver_state import ResolverState
    from tests.integration.api_world import project_outbox
    from tests.integration.test_resolver_state import district

    engine = make_engine(f"sqlite:///{path}")
    state = ResolverState(engine)
    state.resolve_batch(list(district(500)), default_matcher())
    project_outbox(engine, state)  # the projection's key is the tests' key; the copies use the bench key
    with engine.connect() as conn:
        seeds = [Profile.model_validate(r.doc) for r in conn.execute(
            select(profiles.c.doc).where(profiles.c.status == "active"))]
    projection = ProfileProjection(engine, id_hash_key=KEY)
    names, ids = [], []
    copies = max(n // len(seeds), 1)
    for batch_start in range(0, copies, 20):
        with engine.begin() as conn:
            for copy in range(batch_start, min(batch_start + 20, copies)):
                for seed in seeds:
                    golden = seed.golden
                    if golden.household_id is not None:  # each copy is its own household
                        household = golden.household_id.model_copy(update={"value": f"{golden.household_id.value}-c{copy}"})
                        golden = golden.model_copy(update={"household_id": household})
                    clone = seed.model_copy(update={"profile_id": f"{seed.profile_id}-c{copy}", "golden": golden})
                    projection._write(conn, clone)  # the projection's own row writer
                    ids.append(clone.profile_id)
                    if seed.golden.name:
                        names.append(seed.golden.name.value)
        print(f"  {len(ids):>7} profiles written", end="\r", flush=True)
    print()
    return sorted(set(names)), ids


async def drive(base: str, token: str, names: list[str], ids: list[str], clients: int, requests: int
                ) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"search": [], "profile": []}
    rng = random.Random(7)
    per_client = requests // clients

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            for i in range(per_client):
                kind = "search" if i % 2 else "profile"
                start = time.perf_counter()
                if kind == "search":
                    answer = await c.get("/api/v1/residents", params={"name": rng.choice(names), "size": 20})
                else:
                    answer = await c.get(f"/api/v1/residents/{rng.choice(ids)}")
                timings[kind].append((time.perf_counter() - start) * 1000)
                answer.raise_for_status()

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    from store.auth_tables import UserStore
    from store.engine import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        names, ids = build_store(path, args.profiles)
        print(f"store: {len(ids)} profiles in {time.perf_counter() - started:.0f} s")
        users = UserStore(make_engine(f"sqlite:///{path}"))
        users.add("bench", "bench-password", "steward")
        token = users.issue_token("bench")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.query_service:app_from_env", "--factory",
                                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                   "--workers", str(args.workers)], env={**os.environ, STORE_ENV: str(path)})
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            asyncio.run(drive(base, token, names, ids, args.clients, args.clients * 10))  # warm-up
            started = time.perf_counter()
            timings = asyncio.run(drive(base, token, names, ids, args.clients, args.requests))
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{args.requests} requests, {args.clients} concurrent clients, {elapsed:.1f} s "
          f"({args.requests / elapsed:.0f} req/s), every read audited")
    for kind, values in timings.items():
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(f"  {kind:8} n={len(values):5}  p50 {statistics.median(values):6.1f} ms  p99 {p99:6.1f} ms")


if __name__ == "__main__":
    main()
