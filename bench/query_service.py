"""Query-service latency: p50/p99 of searches and profile reads at 20 concurrent clients.

    python -m bench.query_service --profiles 100000 --clients 20 --requests 2000
    python -m bench.query_service --profiles 100000 --store postgres --keep /tmp/qs100k-pg

The store is SQLite (the embedded default) or, with ``--store postgres``, PostgreSQL (the production
store): a throwaway server from Debian's binaries (``localinfra.postgres_server``, as the tests start
it; its data folder is ``--keep``'s, so a later run reuses the built store), the audit log in it too.

The store: the 500 residents of a simulated district (``simulators.district``, seed 3) are rendered
into their departments' rows, standardised, resolved by the real resolver and projected (512 profiles:
some residents keep a provisional profile under review). These seeds are then copied under new ids,
copy after copy of all of them, until there are ``--profiles`` copies (100,000: 195 whole copies and
160 profiles of a 196th), by the projection's own writer (which also writes their read side: search
terms, grid, hit columns); the seeds stay in the store beside them. A copy is another resident of the same
district, not a duplicate, so the searches are as selective as in a real district
(:class:`DistrictCopy`, seeded by the copy's number):

- its name is drawn anew by the simulator's name picker (surnames by their frequency in China,
  given names by sex and birth decade), so common names repeat as they do (many 王芳, 张伟) and rare
  ones do not; minority and foreign names (a few per cent) are kept, so each repeats once per copy;
- each phone number keeps its mobile prefix or area code and gets new digits (one mapping per copy,
  so a household's shared landline stays shared);
- each address keeps its roads, compounds and communities and gets other door, building, unit and
  room numbers (one mapping of numbers per copy, applied to the written address and its parsed parts,
  so household members still share their flat, and two copies live in two flats);
- its household gets a household number of its own; ID numbers, birth dates and the rest are kept
  (the bench does not search by them).

The match evidence and summaries quoting a name, phone or address quote the copy's.

The clients: ``onceonly serve`` (the same command, worker count and settings a deployment runs) serves
the store in a separate process on loopback, and concurrent httpx clients holding a steward's bearer
token drive it (opened, and warmed up with 10 requests each, before anything is timed). Half the
requests read a profile (a copy, uniformly); the others search by name (30 %), phone (10 %, POST) or
a typed address fragment (10 %: road and door number, or compound and building, as in "大明路57号",
"石门坎小区31幢"; else the address's last 8 characters, as in "4幢2单元801"). Nine searches in ten ask
for a copy's value (its name, first phone, address fragment), picked resident by resident (a common
name is asked as often as it is held); one in ten asks for a value nobody holds (a name drawn from
the same picker, a phone number, a 3-digit door number on a stored road) and should find nobody; the
bench says how many answers were wrong. Every request is a real read, audited in the hash chain
before it answers; the chain is verified at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bench.proc_cpu import cpu_seconds

KEY = "bench-key"
MISS_RATE = 0.1  # searches for a value no resident holds

_HAN_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")
_PHONE = re.compile(r"\+86(\d{7,})")
_DIGITS = re.compile(r"\d+")
_ADDRESS_NUMBERS = ("number", "building", "unit", "room")
_QUOTING = ("left", "right", "summary", "household_head")  # free text that quotes a name, phone or address


@dataclass
class Workload:
    """What the clients ask for: one value per stored resident (so a common name is asked as often as
    it is held), and values nobody holds."""

    names: list[str]
    ids: list[str]
    phones: list[str]
    addresses: list[str]  # fragments as a worker types them: road and number, or compound and building
    missing: dict[str, list[str]] = field(default_factory=dict)  # kind → values no resident holds


class DistrictCopy:
    """One copy of the seed residents as other residents of the same district: new names, phone
    numbers and door/building/unit/room numbers (the module docstring says which)."""

    def __init__(self, copy: int) -> None:
        from simulators.district.names import NamePicker

        self.copy = copy
        self.rng = random.Random(f"bench-copy-{copy}")
        self.names = NamePicker()
        self.numbers: dict[tuple[str, str], str] = {}  # (part, a seed's number) → this copy's
        self.phones: dict[str, str] = {}  # an E.164 number of the seeds → this copy's

    def number(self, kind: str, token: str) -> str:
        """This copy's number for a seeds' door (1–199), building (1–40), unit (1–6) or room (floor and
        flat, as many digits: 1701 → 2303). One mapping per copy, whatever the road: the records of
        one resident, and the members of one household, that spell an address differently still agree."""
        key = (kind, token)
        if key not in self.numbers:
            rng = self.rng
            if kind == "number":
                new = rng.randint(1, 199)
            elif kind == "building":
                new = rng.randint(1, 40)
            elif kind == "unit" or len(token) <= 2:
                new = rng.randint(1, 6)
            else:
                new = int(f"{rng.randint(1, 9) if len(token) == 3 else rng.randint(10, 33)}{rng.randint(1, 4):02d}")
            self.numbers[key] = str(new)
        return self.numbers[key]

    def address(self, value: dict[str, Any]) -> dict[str, Any]:
        """An address with other door, building, unit and room numbers on the same road or compound, in
        the written text (each part where it stands: "43号", "43-22-1-1701") and in the parsed parts."""
        out = dict(value)
        raw, cursor, written = value["raw"], 0, []
        for part in _ADDRESS_NUMBERS:
            token = value.get(part)
            if not token or not token.isdigit():
                continue
            out[part] = self.number(part, token)
            found = re.compile(rf"(?<!\d){token}(?!\d)").search(raw, cursor)
            if found is not None:
                written += [_DIGITS.sub(lambda m: self.number("other", m[0]), raw[cursor:found.start()]),
                            out[part]]
                cursor = found.end()
        written.append(_DIGITS.sub(lambda m: self.number("other", m[0]), raw[cursor:]))
        out["raw"] = "".join(written)
        return out

    def phone(self, e164: str) -> str:
        if e164 not in self.phones:
            national = e164[3:]
            keep = 3 if national.startswith("1") else 2  # the mobile prefix, or the area code (025)
            rest = len(national) - keep
            self.phones[e164] = f"+86{national[:keep]}{self.rng.randint(10 ** (rest - 1), 10 ** rest - 1)}"
        return self.phones[e164]

    def resident(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` (a seed profile as JSON) as this copy's resident."""
        from core.standardise import mask_phone, standardise_name

        golden = doc["golden"]
        name = (golden.get("name") or {}).get("value")
        swaps: dict[str, str] = {}  # old text → new, for the free text quoting it
        new_name = pinyin = None
        if name and _HAN_NAME.fullmatch(name):
            rng = random.Random(f"{self.copy}:{doc['profile_id']}")
            birth = (golden.get("birth_date") or {}).get("value") or "1980"
            sex = {"female": "2", "male": "1"}.get((golden.get("sex") or {}).get("value") or "", rng.choice("12"))
            new_name = self.names.surname(rng) + self.names.given_name(rng, sex, int(birth[:4]))  # type: ignore[arg-type]
            swaps[name] = new_name
            pinyin = standardise_name(new_name).pinyin

        def rewrite(value: Any, key: str | None = None) -> Any:
            if isinstance(value, dict):
                if "raw" in value and "road" in value:  # an address: as written and its parsed parts
                    out = self.address(value)
                    swaps[value["raw"]] = out["raw"]
                    return out
                if key == "name":  # a surviving name (value and conflicts) or an observation of one
                    return {k: rewrite(v, "name" if k in ("value", "conflicts") else k) for k, v in value.items()}
                return {k: rewrite(v, k) for k, v in value.items()}
            if isinstance(value, list):
                return [rewrite(v, key) for v in value]
            if isinstance(value, str):
                if (phone := _PHONE.fullmatch(value)) is not None:
                    swaps[mask_phone(phone[1])] = mask_phone(self.phone(value)[3:])
                    return self.phone(value)
                if key in ("name", "name_raw") and new_name is not None and _HAN_NAME.fullmatch(value):
                    return new_name  # a record's spelling variant becomes the copy's name too
                if key == "name_pinyin" and new_name is not None:
                    return pinyin
            return value

        ordered: list[tuple[str, str]] = []

        def quote(value: Any, key: str | None = None) -> Any:
            if isinstance(value, dict):
                return {k: quote(v, k) for k, v in value.items()}
            if isinstance(value, list):
                return [quote(v, key) for v in value]
            if isinstance(value, str) and key in _QUOTING:
                for old, new in ordered:
                    value = value.replace(old, new)
            return value

        rewritten = rewrite(doc)
        ordered = sorted(swaps.items(), key=lambda kv: -len(kv[0]))
        copied: dict[str, Any] = quote(rewritten)
        return copied


def _fragment(profile: Any) -> str | None:
    shown = profile.golden.residential_address or profile.golden.registered_address
    if shown is None:
        return None
    a = shown.value
    if a.road and a.number:
        return f"{a.road}{a.number}号"
    if a.compound and a.building:
        return f"{a.compound}{a.building}幢"
    return a.raw[-8:] if len(a.raw) >= 8 else None


def build_store(url: str, n: int) -> Workload:
    from core.matching import default_matcher
    from core.profile import Profile
    from store.engine import make_engine
    from store.profile_projection import ProfileProjection
    from store.profile_tables import profiles
    from store.resolver_state import ResolverState
    from tests.integration.api_world import project_outbox
    from tests.integration.test_resolver_state import district

    engine = make_engine(url)
    state = ResolverState(engine)
    state.resolve_batch(list(district(500)), default_matcher())
    project_outbox(engine, state)  # the projection's key is the tests' key; the copies use the bench key
    with engine.connect() as conn:
        seeds = [Profile.model_validate(r.doc).model_dump(mode="json") for r in conn.execute(
            select(profiles.c.doc).where(profiles.c.status == "active").order_by(profiles.c.profile_id))]
    projection = ProfileProjection(engine, id_hash_key=KEY)
    work = Workload([], [], [], [])
    copies = -(-n // len(seeds))
    for batch_start in range(0, copies, 10):
        with engine.begin() as conn:
            clones = []
            for copy in range(batch_start, min(batch_start + 10, copies)):
                district_copy = DistrictCopy(copy)
                for seed in seeds[:n - len(work.ids)]:
                    doc = district_copy.resident(seed)
                    doc["profile_id"] = f"{seed['profile_id']}-c{copy}"
                    if doc["golden"].get("household_id"):  # each copy is its own household
                        doc["golden"]["household_id"]["value"] += f"-c{copy}"
                    clone = Profile.model_validate(doc)
                    clones.append(clone)
                    work.ids.append(clone.profile_id)
                    golden = clone.golden
                    if golden.name:
                        work.names.append(golden.name.value)
                    if golden.phones:
                        work.phones.extend(golden.phones.value[:1])
                    if fragment := _fragment(clone):
                        work.addresses.append(fragment)
            projection.write_profiles(conn, clones)  # the projection's own writer, read side and places
        print(f"  {len(work.ids):>7} profiles written", end="\r", flush=True)
    print()
    work.missing = _missing_values(engine, work)
    engine.dispose()
    return work


def _missing_values(engine: Any, work: Workload, each: int = 200) -> dict[str, list[str]]:
    """Values nobody in the store holds, checked against the store (names as a prefix or by pinyin,
    as name search matches them): names from the same picker, phone numbers, door numbers on stored roads."""
    from core.standardise import parse_phone, standardise_name
    from simulators.district.names import NamePicker
    from store.profile_tables import profile_search_terms as terms
    from store.profile_tables import profiles

    rng, picker = random.Random(11), NamePicker()
    with engine.connect() as conn:
        held_names = set(conn.execute(select(profiles.c.name).distinct()).scalars()) - {None}
        held_keys = set(conn.execute(select(profiles.c.name_key).distinct()).scalars()) | set(
            conn.execute(select(terms.c.term).where(terms.c.kind == "name").distinct()).scalars())
        held_phones = set(conn.execute(select(terms.c.term).where(terms.c.kind == "phone").distinct()).scalars())

        def nobody_lives_at(fragment: str) -> bool:
            return conn.execute(select(terms.c.profile_id).where(
                terms.c.kind == "address_line", terms.c.term.contains(fragment, autoescape=True)).limit(1)).first() is None

        names: set[str] = set()
        while len(names) < each:
            name = picker.surname(rng) + picker.given_name(rng, rng.choice("12"), rng.randint(1940, 2020))  # type: ignore[arg-type]
            pinyin = standardise_name(name).pinyin or ""
            if (name not in held_names and not ({pinyin, pinyin.replace(" ", "")} & held_keys)
                    and not any(h.startswith(name) for h in held_names)):
                names.add(name)
        phones: set[str] = set()
        while len(phones) < each:
            phone = f"+861{rng.choice('3589')}{rng.randint(10 ** 8, 10 ** 9 - 1)}"
            if phone not in held_phones and parse_phone(phone) == phone:  # a number that could exist
                phones.add(phone)
        roads = sorted({f[:f.index("路") + 1] for f in work.addresses if "路" in f and f.endswith("号")})
        addresses: set[str] = set()
        while roads and len(addresses) < each:
            fragment = f"{rng.choice(roads)}{rng.randint(100, 999)}号"
            if nobody_lives_at(fragment):
                addresses.add(fragment)
    return {"search name": sorted(names), "search phone": sorted(phones), "search address": sorted(addresses)}


KINDS = ("profile", "search name", "search phone", "search address", "household", "community home")
# The mix of reads: half profiles and name searches as before; households and a worker's home page
# (her community's paged resident list with what changed since her last visit) as well.
MIX = (("profile", 0.40), ("search name", 0.25), ("search phone", 0.10), ("search address", 0.10),
       ("household", 0.10), ("community home", 0.05))
HOME_COMMUNITIES = 5  # the largest communities, each with a worker of its own


@dataclass
class Callers:
    """Who asks: a steward's bearer token for everything, and a worker's for her own community's home page."""

    steward: str
    workers: dict[str, str]  # community → its worker's bearer token
    households: list[str]  # household numbers held by 2+ residents (a worker opens a family)


def _pick(rng: random.Random) -> str:
    roll, upto = rng.random(), 0.0
    for kind, share in MIX:
        upto += share
        if roll < upto:
            return kind
    return MIX[-1][0]


async def drive(base: str, callers: Callers, work: Workload, clients: int, requests: int, rate: float | None
                ) -> tuple[dict[str, list[float]], float]:
    """A warm-up of 10 requests per client, then ``requests`` timed ones; the timings per kind and the
    timed part's duration. The clients and their connections are opened before any request is timed
    (creating an httpx client costs ~25 ms of the bench's own CPU, which is not the service's latency).

    Closed loop (``rate`` None): each client sends its next request when the last one answered, so the
    service runs flat out and the latency is that of a saturated service. Open loop (``rate``): requests
    are due at a steady ``rate`` per second whatever the answers, taken by the first free client; a
    request's latency counts from when it was due, so time spent queueing for a client counts too."""
    async with contextlib.AsyncExitStack() as stack:
        opened = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {callers.steward}"}, timeout=30)) for _ in range(clients)]
        await _requests(opened, callers, work, clients * 10, None, seed=8)  # warm-up: other values
        started = time.perf_counter()
        timings = await _requests(opened, callers, work, requests, rate)
        return timings, time.perf_counter() - started


async def _requests(opened: list[httpx.AsyncClient], callers: Callers, work: Workload, requests: int,
                    rate: float | None, seed: int = 7) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {kind: [] for kind in KINDS}
    rng = random.Random(seed)
    wrong: Counter[str] = Counter()  # a stored value found nobody, or a missing one found somebody
    asked: Counter[str] = Counter()
    held = {"search name": work.names, "search phone": work.phones, "search address": work.addresses,
            "household": callers.households, "community home": sorted(callers.workers)}

    def plan() -> tuple[str, bool, str, int]:
        kind = _pick(rng)
        miss = kind.startswith("search") and bool(work.missing.get(kind)) and rng.random() < MISS_RATE
        value = rng.choice(work.missing[kind] if miss else held.get(kind, work.ids))
        return kind, miss, value, rng.randint(1, 20)

    async def send(c: httpx.AsyncClient, kind: str, miss: bool, value: str, page: int, due: float) -> None:
        if kind == "profile":
            answer = await c.get(f"/api/v1/residents/{value}")
        elif kind == "search name":
            answer = await c.get("/api/v1/residents", params={"name": value, "size": 20})
        elif kind == "search phone":  # phone numbers only in a POST body, never in a URL
            answer = await c.post("/api/v1/residents/search", json={"phone": value})
        elif kind == "search address":
            answer = await c.get("/api/v1/residents", params={"address": value})
        elif kind == "household":
            answer = await c.get(f"/api/v1/households/{value}")
        else:  # the worker's home page: her community's residents, a page of them, and what changed
            answer = await c.get("/console/", params={"community": value, "p": page},
                                 headers={"Authorization": f"Bearer {callers.workers[value]}"})
        timings[kind].append((time.perf_counter() - due) * 1000)
        answer.raise_for_status()
        if kind.startswith("search"):
            label = f"{kind} ({'missing' if miss else 'held'} value)"
            asked[label] += 1
            if bool(answer.json()["results"]) == miss:
                wrong[label] += 1

    if rate is None:
        per_client = requests // len(opened)

        async def client_loop(c: httpx.AsyncClient) -> None:
            for _ in range(per_client):
                await send(c, *plan(), time.perf_counter())

        await asyncio.gather(*(client_loop(c) for c in opened))
    else:
        free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for c in opened:
            free.put_nowait(c)
        start = time.perf_counter()

        async def one(n: int, asking: tuple[str, bool, str, int]) -> None:
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            c = await free.get()
            try:
                await send(c, *asking, due)
            finally:
                free.put_nowait(c)

        await asyncio.gather(*(one(n, plan()) for n in range(requests)))
    for label in sorted(asked):
        if wrong[label]:
            print(f"  {label}: {wrong[label]} of {asked[label]} answered wrongly (found nobody / somebody)")
    return timings


def _percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(len(values) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rate", type=float, action="append",
                        help="also drive an open loop at this many requests/s (repeatable); the closed loop runs first")
    parser.add_argument("--workers", type=int, default=0,
                        help="uvicorn processes (default: what `onceonly serve` chooses for the store)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                        help="SQLite (the embedded default) or PostgreSQL (the production store, a local server)")
    parser.add_argument("--keep", type=Path, help="build the store here once and reuse it on later runs "
                                                  "(SQLite: the database file; PostgreSQL: the server's data folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        database: subprocess.Popen[bytes] | None = None  # the PostgreSQL server, whose CPU is counted too
        if args.store == "sqlite":
            path = args.keep or Path(tmp) / "bench.db"
            saved, data_dir, url = path.with_suffix(".workload.json"), path.parent, f"sqlite:///{path}"
            what = f"SQLite ({path})"
        else:
            from localinfra.postgres_server import PostgresServer

            folder = args.keep or Path(tmp) / "postgres"
            server = stack.enter_context(PostgresServer.started(folder))
            database = server.process
            saved, data_dir = folder / "bench.workload.json", folder / "var"
            url = server.url.rsplit("/", 1)[0] + "/onceonly_bench"
            what = f"PostgreSQL {_server_version(server.url)} (data folder {folder}, fsync off as the tests run it)"
        started = time.perf_counter()
        if args.keep and saved.is_file():
            work = Workload(**json.loads(saved.read_text(encoding="utf-8")))
            built = "reused"
        else:
            if args.store == "postgres":
                url = server.fresh_database("onceonly_bench")  # a build cut short left a partial one
            work = build_store(url, args.profiles)
            saved.write_text(json.dumps(asdict(work), ensure_ascii=False), encoding="utf-8")
            took = time.perf_counter() - started
            built = f"built in {took:.0f} s, {len(work.ids) / took:.0f} profiles/s"
        print(f"store: {len(work.ids)} profiles on {what} ({built})")
        serve_and_drive(url, data_dir, work, args, database)


def _server_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        engine.dispose()


def _report(title: str, timings: dict[str, list[float]], elapsed: float, cpu: float, load: tuple[float, float],
            db_cpu: float | None = None) -> None:
    done = sum(len(v) for v in timings.values())
    print(f"{title}: {done} requests in {elapsed:.1f} s ({done / elapsed:.0f} req/s); the service used {cpu:.1f} CPU-s: "
          f"{1000 * cpu / done:.2f} ms of CPU per request, {done / cpu:.0f} requests per CPU-second (per core); "
          + ("" if db_cpu is None else
             f"PostgreSQL's processes {db_cpu:.1f} CPU-s more ({1000 * db_cpu / done:.2f} ms per request); ")
          + f"load average {load[0]:.2f} before, {load[1]:.2f} after ({os.cpu_count()} cores)")
    for kind in KINDS:
        values = sorted(timings[kind])
        if values:
            print(f"  {kind:15} n={len(values):5}  p50 {statistics.median(values):6.1f} ms  p99 {_percentile(values, 0.99):6.1f} ms")
    searches = sorted(v for k, vs in timings.items() if k.startswith("search") for v in vs)
    every = sorted(v for vs in timings.values() for v in vs)
    print(f"  {'all searches':15} n={len(searches):5}  p50 {statistics.median(searches):6.1f} ms  "
          f"p99 {_percentile(searches, 0.99):6.1f} ms")
    print(f"  {'every read':15} n={len(every):5}  p50 {statistics.median(every):6.1f} ms  p99 {_percentile(every, 0.99):6.1f} ms")


def _callers(engine: Any) -> Callers:
    """The steward and one worker per large community (created once in the store), and households to open."""
    from sqlalchemy import func

    from store.auth_tables import UserExists, UserStore
    from store.profile_tables import profiles

    users = UserStore(engine)
    with contextlib.suppress(UserExists):
        users.add("bench", "bench-password", "steward")
    with engine.connect() as conn:
        communities = [r[0] for r in conn.execute(
            select(profiles.c.community, func.count()).where(profiles.c.community.is_not(None),
                                                             profiles.c.status == "active")
            .group_by(profiles.c.community).order_by(func.count().desc(), profiles.c.community).limit(HOME_COMMUNITIES))]
        households = list(conn.execute(
            select(profiles.c.household_id).where(profiles.c.household_id.is_not(None), profiles.c.status == "active")
            .group_by(profiles.c.household_id).having(func.count() > 1).order_by(profiles.c.household_id)).scalars())
    workers = {}
    for n, community in enumerate(communities):
        with contextlib.suppress(UserExists):
            users.add(f"bench-worker-{n}", "bench-password", "community_worker", communities=[community])
        workers[community] = users.issue_token(f"bench-worker-{n}")
    return Callers(users.issue_token("bench"), workers, households)


def serve_and_drive(url: str, data_dir: Path, work: Workload, args: argparse.Namespace,
                    database: subprocess.Popen[bytes] | None = None) -> None:
    from onceonly.cli import serve_workers
    from onceonly.settings import Settings
    from store.audit import AuditLog
    from store.engine import make_engine

    engine = make_engine(url)
    callers = _callers(engine)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "ONCEONLY_DATABASE_URL": url, "ONCEONLY_DATA_DIR": str(data_dir),
           "ONCEONLY_ID_HASH_KEY": KEY, "ONCEONLY_API_HOST": "127.0.0.1", "ONCEONLY_API_PORT": str(port)}
    if args.workers:
        env["ONCEONLY_API_WORKERS"] = str(args.workers)
    workers = serve_workers(Settings(database_url=url, _env_file=None),
                            int(env.get("ONCEONLY_API_WORKERS") or 0))  # what `onceonly serve` will run
    cores = sorted(os.sched_getaffinity(0))
    pinned = len(cores) >= 4  # the service on half the cores, the clients on the other half
    before = AuditLog(engine).verify().entries
    server = subprocess.Popen([sys.executable, "-m", "onceonly.cli", "serve"], env=env,
                              preexec_fn=(lambda: os.sched_setaffinity(0, cores[:len(cores) // 2])) if pinned else None)
    if pinned:
        os.sched_setaffinity(0, cores[len(cores) // 2:])
    print(f"`onceonly serve` on {engine.dialect.name} with {workers} worker process(es)"
          f"{'' if args.workers else ' (its own choice)'}, {args.clients} concurrent clients in the bench's process; "
          + (f"service pinned to cores {cores[:len(cores) // 2]}, clients to {cores[len(cores) // 2:]}" if pinned
             else f"not pinned ({len(cores)} cores: the service and the clients share them)"))
    done = 0
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        for rate in [None, *(args.rate or [])]:
            load, cpu = os.getloadavg()[0], cpu_seconds(server.pid)
            db_cpu = None if database is None else cpu_seconds(database.pid, reaped=True)
            timings, elapsed = asyncio.run(drive(base, callers, work, args.clients, args.requests, rate))
            cpu = cpu_seconds(server.pid) - cpu  # warm-up included: a small over-count of CPU per request
            if database is not None and db_cpu is not None:
                db_cpu = cpu_seconds(database.pid, reaped=True) - db_cpu
            done += sum(len(v) for v in timings.values()) + args.clients * 10
            title = "closed loop (each client sends again when answered)" if rate is None else \
                f"open loop at {rate:.0f} requests/s"
            _report(title, timings, elapsed, cpu, (load, os.getloadavg()[0]), db_cpu)
    finally:
        server.terminate()
        server.wait(timeout=60)
    check = AuditLog(engine).verify()
    print(f"audit chain: {check.entries - before} new entries for {done} requests, "
          f"{'verified' if check.ok else 'BROKEN: ' + '; '.join(check.problems)}")
    engine.dispose()


if __name__ == "__main__":
    main()
