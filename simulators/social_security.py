"""The social security (人社) department's HTTP JSON API, as a real local server.

What the hub's HTTP connector talks to in tests, benchmarks and demos: a FastAPI app under
uvicorn on a loopback port, its rows in SQLite, seeded from the synthetic district.

The API, as the department documents it:

- ``POST /auth/token`` (form: ``grant_type=client_credentials``, ``client_id``,
  ``client_secret``) → ``{"access_token", "token_type": "bearer", "expires_in"}``. Tokens
  expire; an expired or revoked token gets ``401``.
- ``GET /api/insured?updated_since=T&after_grbh=K&page=N&size=M`` (``Authorization: Bearer``)
  → ``{"items": [...], "page", "size", "has_more"}``: rows changed since ``T``, ordered by
  (``gxsj`` 更新时间, ``grbh`` 个人编号). ``updated_since`` alone is inclusive (``gxsj >= T``);
  with ``after_grbh`` it continues strictly after the row (``T``, ``K``), so a client that
  always asks for page 1 after the last row it read never skips a row, even when rows change
  while it pages (offset paging would shift under it).
- Deletions: the department never drops a row. A removed record (注销, a duplicate 个人编号
  merged away) keeps its content, gets ``yxbz`` (有效标志) ``"0"`` instead of ``"1"`` and a new
  ``gxsj``, so it comes back through the same incremental feed.
- A rate limit per client (token bucket): ``429`` with ``Retry-After`` (seconds).
- Failure injection (:class:`Faults`): a share of 5xx answers and slow answers, at random or
  on a fixed schedule (every n-th data request), and a switch that breaks every data request
  from some point on.

Example::

    with SocialSecurityApi.from_district(500, seed=1) as api:   # started on a free port
        api.base_url, api.clients                               # where, and who may call
        grbh = api.change_phone()                               # a row changes (new gxsj)
        api.remove(grbh)                                        # yxbz = "0"

From a shell (runs until Ctrl-C)::

    python -m simulators.social_security --port 8765 --db var/social_security.db --residents 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import secrets
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response

__all__ = ["Faults", "SocialSecurityApi", "Stats", "main"]

CHINA = timezone(timedelta(hours=8))
MAX_PAGE_SIZE = 1000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS insured (
    seq  INTEGER PRIMARY KEY,
    grbh TEXT,              -- NULL only in an injected bad record
    gxsj TEXT NOT NULL,     -- ISO 8601, China time without offset, as the department writes it
    yxbz TEXT NOT NULL,     -- 有效标志: "1" valid, "0" removed
    body TEXT NOT NULL      -- the row as the API returns it (JSON)
);
CREATE UNIQUE INDEX IF NOT EXISTS insured_grbh ON insured (grbh) WHERE grbh IS NOT NULL;
CREATE INDEX IF NOT EXISTS insured_feed ON insured (gxsj, coalesce(grbh, ''), seq);
"""


@dataclass
class Faults:
    """What goes wrong, and how often. ``*_rate`` are drawn at random (seeded); ``*_every`` hit
    every n-th data request exactly, for tests that must see each fault."""

    error_rate: float = 0.0  # share of data and token requests answered 500/502/503
    slow_rate: float = 0.0  # share of data requests answered after ``slow_s``
    slow_s: float = 2.0
    error_every: int = 0
    throttle_every: int = 0  # answered 429 as if over the rate limit
    slow_every: int = 0
    rate_per_s: float = 0.0  # token bucket per client: refill rate (0 = no limit) …
    burst: int = 20  # … and size
    broken_after: int | None = None  # after this many good data pages, every data request fails
    seed: int = 0


@dataclass
class Stats:
    requests: int = 0
    pages: int = 0  # data pages answered 200
    rows: int = 0
    errors: int = 0  # injected 5xx
    throttled: int = 0  # 429
    slow: int = 0
    unauthorized: int = 0  # 401 on a data request
    tokens: int = 0  # tokens issued
    refused: int = 0  # token requests with bad credentials


def _china_now() -> datetime:
    return datetime.now(CHINA).replace(tzinfo=None)


class SocialSecurityApi:
    """The department system: its rows (SQLite), its clients, its faults, and its HTTP server."""

    def __init__(self, db: Path | str = ":memory:", *, clients: dict[str, str] | None = None,
                 token_ttl_s: float = 1800.0, faults: Faults | None = None) -> None:
        self.clients = dict(clients or {"onceonly": secrets.token_urlsafe(16)})
        self.token_ttl_s = token_ttl_s
        self.faults = faults or Faults()
        self.stats = Stats()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(db), check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._rng = random.Random(self.faults.seed)
        self._data_requests = 0
        self._new_numbers = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # -- building ----------------------------------------------------------------------------------
    @classmethod
    def from_district(cls, residents: int, seed: int = 1, db: Path | str = ":memory:", *, rows: int | None = None,
                      **kwargs: Any) -> SocialSecurityApi:
        """A department holding the insured among ``residents`` synthetic residents (the first
        ``rows`` of them when given); an existing ``db`` with rows is served as it is."""
        from simulators.district import department_rows, generate_district

        api = cls(db, **kwargs)
        if api.count() == 0:
            api.load(islice(department_rows(generate_district(residents, seed=seed), seed, "social_security"), rows))
        return api

    def load(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows as they are (their own ``gxsj``), valid (``yxbz`` "1")."""
        count = 0
        with self._lock:
            self._db.execute("BEGIN")
            for row in rows:
                self._insert({**row, "yxbz": row.get("yxbz") or "1"})
                count += 1
            self._db.execute("COMMIT")
        return count

    # -- changing data over time -------------------------------------------------------------------
    def update(self, grbh: str, **fields: Any) -> str:
        """Change fields of one row; it gets a new ``gxsj`` (and so reappears in the feed)."""
        return self._write(grbh, fields)

    def _write(self, grbh: str, fields: dict[str, Any]) -> str:
        with self._lock:
            row = self.row(grbh)
            if row is None:
                raise KeyError(f"no insured person {grbh}")
            row.update(fields)
            row["gxsj"] = self._next_stamp()
            self._db.execute("UPDATE insured SET gxsj = ?, yxbz = ?, body = ? WHERE grbh = ?",
                             (row["gxsj"], row.get("yxbz") or "1", _dumps(row), grbh))
        return grbh

    def change_phone(self, grbh: str | None = None) -> str:
        """A resident reports a new mobile number (手机号码变更)."""
        with self._lock:
            grbh = grbh or self._some_live_grbh()
            phone = "1" + self._rng.choice("3578") + "".join(self._rng.choice("0123456789") for _ in range(9))
            return self.update(grbh, sjhm=phone)

    def remove(self, grbh: str | None = None) -> str:
        """The record is removed (注销/合并): ``yxbz`` becomes "0", the content stays."""
        with self._lock:
            return self.update(grbh or self._some_live_grbh(), yxbz="0")

    def add_insured(self, row: dict[str, Any] | None = None) -> str:
        """A newly insured person (新参保): ``row`` as given, or a copy of a live person's record
        under a fresh 个人编号 (a second enrolment, as happens)."""
        with self._lock:
            if row is None:
                template = self.row(self._some_live_grbh()) or {}
                row = {**template, "grbh": self._fresh_grbh(), "cbrq": f"{_china_now():%Y%m%d}"}
            row = {**row, "gxsj": self._next_stamp(), "yxbz": "1"}
            self._insert(row)
            return str(row["grbh"])

    def apply_snapshot(self, rows: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Bring the system to a newer rendering of the district (``simulators.district.evolve``):
        changed rows are updated, new ones inserted, rows no longer rendered removed."""
        counts = {"changed": 0, "added": 0, "removed": 0}
        with self._lock:
            present: set[str] = set()
            for row in rows:
                grbh = str(row["grbh"])
                present.add(grbh)
                old = self.row(grbh)
                content = {k: v for k, v in row.items() if k != "gxsj"}
                if old is None:
                    self.add_insured(row)
                    counts["added"] += 1
                elif {k: v for k, v in old.items() if k not in ("gxsj", "yxbz")} != content or old["yxbz"] != "1":
                    self._write(grbh, {**content, "yxbz": "1"})
                    counts["changed"] += 1
            live = [g for (g,) in self._db.execute("SELECT grbh FROM insured WHERE yxbz = '1' AND grbh IS NOT NULL")]
            for grbh in live:
                if grbh not in present:
                    self.remove(grbh)
                    counts["removed"] += 1
        return counts

    def add_bad_records(self) -> int:
        """Records the department's own checks let through: a birth month in the future, sex
        code "5", a 2 MB address, a spreadsheet formula as a name, no 个人编号. Returns 5."""
        with self._lock:
            template = self.row(self._some_live_grbh()) or {}
            bad: list[dict[str, Any]] = [
                {"csny": f"{_china_now().year + 5}01"},
                {"xb": "5"},
                {"txdz": "南京市秦淮区" + "长" * (2 * 1024 * 1024 // 3)},
                {"xm": '=cmd|" /C calc"!A0'},
                {"grbh": None},
            ]
            for fields in bad:
                self.add_insured({**template, "grbh": self._fresh_grbh(), **fields})
            return len(bad)

    # -- reading -----------------------------------------------------------------------------------
    def row(self, grbh: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._db.execute("SELECT body FROM insured WHERE grbh = ?", (grbh,)).fetchone()
        return None if found is None else dict(json.loads(found[0]))

    def count(self, *, live_only: bool = False) -> int:
        where = " WHERE yxbz = '1'" if live_only else ""
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM insured{where}").fetchone()[0])  # noqa: S608 - a fixed clause, no input

    def feed(self, updated_since: str | None, after: str | None, offset: int, limit: int) -> list[str]:
        """Rows (as JSON text) in feed order after the cursor: what a page holds."""
        sql = "SELECT body FROM insured"
        params: list[Any] = []
        if updated_since is not None and after is not None:
            sql += " WHERE gxsj > ? OR (gxsj = ? AND coalesce(grbh, '') > ?)"
            params = [updated_since, updated_since, after]
        elif updated_since is not None:
            sql += " WHERE gxsj >= ?"
            params = [updated_since]
        sql += " ORDER BY gxsj, coalesce(grbh, ''), seq LIMIT ? OFFSET ?"
        with self._lock:
            return [body for (body,) in self._db.execute(sql, [*params, limit, offset])]

    # -- tokens and faults ---------------------------------------------------------------------
    def revoke_tokens(self) -> None:
        """Every issued token stops working (a key rotation, a restart of the auth service)."""
        with self._lock:
            self._tokens.clear()

    def break_after(self, good_pages: int | None) -> None:
        """From ``good_pages`` more data pages on, every data request fails (``None`` heals)."""
        with self._lock:
            self.faults.broken_after = None if good_pages is None else self.stats.pages + good_pages

    # -- the server ----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the social security API is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> SocialSecurityApi:
        """Serve on 127.0.0.1:``port`` (0 = a free port) in a background thread."""
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(create_app(self), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"social-security-api:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the social security API did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (the data stays; ``start(port)`` serves it again)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def close(self) -> None:
        self.stop()
        self._db.close()

    def __enter__(self) -> SocialSecurityApi:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- used by the app -------------------------------------------------------------------------
    def issue_token(self, client_id: str, client_secret: str) -> str | None:
        with self._lock:
            if not client_id or not secrets.compare_digest(self.clients.get(client_id, "\0"), client_secret):
                self.stats.refused += 1
                return None
            token = secrets.token_urlsafe(24)
            self._tokens[token] = (client_id, time.monotonic() + self.token_ttl_s)
            self.stats.tokens += 1
            return token

    def client_of(self, authorization: str | None) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if found is None or found[1] < time.monotonic():
                self.stats.unauthorized += 1
                return None
            return found[0]

    def fault_for(self, client: str | None) -> tuple[int, float, float]:
        """For the next request: (status to answer instead, Retry-After seconds, delay seconds).

        ``client`` None is a token request (only random errors apply)."""
        f = self.faults
        with self._lock:
            self.stats.requests += 1
            if client is None:
                return (self._error_status(), 0.0, 0.0) if self._rng.random() < f.error_rate else (0, 0.0, 0.0)
            self._data_requests += 1
            n = self._data_requests
            if f.broken_after is not None and self.stats.pages >= f.broken_after:
                self.stats.errors += 1
                return 503, 0.0, 0.0
            if (f.throttle_every and n % f.throttle_every == 0) or not self._take_from_bucket(client):
                self.stats.throttled += 1
                return 429, self._retry_after(client), 0.0
            if (f.error_every and n % f.error_every == 0) or self._rng.random() < f.error_rate:
                return self._error_status(), 0.0, 0.0
            if (f.slow_every and n % f.slow_every == 0) or self._rng.random() < f.slow_rate:
                self.stats.slow += 1
                return 0, 0.0, f.slow_s
            return 0, 0.0, 0.0

    def served(self, rows: int) -> None:
        with self._lock:
            self.stats.pages += 1
            self.stats.rows += rows

    # -- internals -------------------------------------------------------------------------------
    def _error_status(self) -> int:
        self.stats.errors += 1
        return self._rng.choice((500, 502, 503))

    def _take_from_bucket(self, client: str) -> bool:
        f = self.faults
        if f.rate_per_s <= 0:
            return True
        now = time.monotonic()
        tokens, then = self._buckets.get(client, (float(f.burst), now))
        tokens = min(float(f.burst), tokens + (now - then) * f.rate_per_s)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return False
        self._buckets[client] = (tokens - 1, now)
        return True

    def _retry_after(self, client: str) -> float:
        if self.faults.rate_per_s <= 0:
            return 1.0
        tokens = self._buckets.get(client, (0.0, 0.0))[0]
        return float(max(1, math.ceil((1 - tokens) / self.faults.rate_per_s)))

    def _insert(self, row: dict[str, Any]) -> None:
        grbh = row.get("grbh")
        self._db.execute("INSERT INTO insured (grbh, gxsj, yxbz, body) VALUES (?, ?, ?, ?)",
                         (None if grbh is None else str(grbh), row["gxsj"], row["yxbz"], _dumps(row)))

    def _next_stamp(self) -> str:
        """Now (China time, milliseconds), strictly after every stamp written so far: one writer,
        so the feed never gets a row behind a cursor a client already holds."""
        latest = self._db.execute("SELECT max(gxsj) FROM insured").fetchone()[0]
        now = _china_now()
        if latest is not None:
            now = max(now, datetime.fromisoformat(latest) + timedelta(milliseconds=1))
        return now.isoformat(timespec="milliseconds")

    def _some_live_grbh(self) -> str:
        found = self._db.execute("SELECT grbh FROM insured WHERE yxbz = '1' AND grbh IS NOT NULL "
                                 "ORDER BY grbh LIMIT 1 OFFSET ?", (self._rng.randrange(max(1, self.count(live_only=True))),)).fetchone()
        if found is None:
            raise LookupError("the department holds no live insured person")
        return str(found[0])

    def _fresh_grbh(self) -> str:
        while True:
            self._new_numbers += 1
            grbh = f"39{self._new_numbers:08d}"
            if self.row(grbh) is None:
                return grbh


def _dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def create_app(api: SocialSecurityApi) -> FastAPI:
    """The department's HTTP API over ``api`` (FastAPI)."""
    app = FastAPI(title="人社 参保人员 API (simulated)", docs_url=None, redoc_url=None, openapi_url=None)

    def problem(status: int, error: str, **headers: str) -> JSONResponse:
        return JSONResponse({"error": error}, status_code=status, headers=headers)

    @app.post("/auth/token")
    async def token(request: Request) -> Response:
        status, _, _ = api.fault_for(None)
        if status:
            return problem(status, "token service unavailable")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if form.get("grant_type", "client_credentials") != "client_credentials":
            return problem(400, "unsupported_grant_type")
        issued = api.issue_token(form.get("client_id", ""), form.get("client_secret", ""))
        if issued is None:
            return problem(401, "invalid_client")
        return JSONResponse({"access_token": issued, "token_type": "bearer", "expires_in": int(api.token_ttl_s)})

    @app.get("/api/insured")
    async def insured(
        updated_since: str | None = None,
        after_grbh: str | None = None,
        page: int = Query(1, ge=1),
        size: int = Query(100, ge=1, le=MAX_PAGE_SIZE),
        authorization: str | None = Header(None),
    ) -> Response:
        client = api.client_of(authorization)
        if client is None:
            return problem(401, "invalid_token", **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
        status, retry_after, delay = api.fault_for(client)
        if status == 429:
            return problem(429, "rate limit exceeded", **{"Retry-After": str(int(retry_after))})
        if status:
            return problem(status, "service unavailable")
        if delay:
            await asyncio.sleep(delay)
        if updated_since is not None:
            try:
                datetime.fromisoformat(updated_since)
            except ValueError:
                return problem(400, "updated_since is not an ISO 8601 time")
        bodies = api.feed(updated_since, after_grbh, (page - 1) * size, size + 1)
        items = bodies[:size]
        api.served(len(items))
        text = (f'{{"page":{page},"size":{size},"has_more":{"true" if len(bodies) > size else "false"},'
                f'"items":[{",".join(items)}]}}')
        return Response(text, media_type="application/json")

    return app


def main(argv: list[str] | None = None) -> None:
    """``python -m simulators.social_security``: serve a seeded department until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m simulators.social_security", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0, help="loopback port (0 = a free one)")
    parser.add_argument("--db", default=":memory:", help="SQLite file holding the rows (seeded when empty)")
    parser.add_argument("--residents", type=int, default=2000, help="synthetic residents to seed from")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--client-id", default="onceonly")
    parser.add_argument("--client-secret", default="onceonly-dev-secret")
    parser.add_argument("--token-ttl", type=float, default=1800.0, help="token lifetime, seconds")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 5xx")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="share of data requests answered late")
    parser.add_argument("--slow-s", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second per client (0 = no limit)")
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args(argv)
    faults = Faults(error_rate=args.error_rate, slow_rate=args.slow_rate, slow_s=args.slow_s,
                    rate_per_s=args.rate, burst=args.burst, seed=args.seed)
    api = SocialSecurityApi.from_district(args.residents, args.seed, args.db, clients={args.client_id: args.client_secret},
                                          token_ttl_s=args.token_ttl, faults=faults)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with api.start(args.port):
        print(f"social security API at {api.base_url} ({api.count()} rows, client {args.client_id}); Ctrl-C stops it",
              flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
