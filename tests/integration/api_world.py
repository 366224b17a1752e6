"""A real profile store for the query-service tests: a simulated district (300 residents) resolved by
the real resolver state and projected by the real projection, with users of every role.

Built once per process into a SQLite file; each test module copies the file, so tests that write
(decisions, audit tampering) never disturb another module.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from api.app import create_app
from core.matching import default_matcher
from core.profile import Profile
from onceonly.bootstrap import resolver_state
from onceonly.settings import Settings
from store.auth_tables import UserStore
from store.engine import make_engine
from store.profile_projection import DeliveredEvent, ProfileProjection
from store.profile_tables import profiles
from store.resolver_state import ResolverState
from tests.integration.test_resolver_state import district

KEY = "api-test-key"


def form_token(client: TestClient, page: str = "/console/login") -> str:
    """The CSRF token a console page's forms carry (the login page's, or a logged-in page's), as a
    browser would post it back."""
    found = re.search(r'name="csrf" value="([^"]*)"', client.get(page).text)
    assert found and found[1], f"no CSRF token on {page}"
    return found[1]
PASSWORD = "correct horse battery"
# What a service bound off loopback needs besides the ID-hash key (create_app refuses the public defaults).
OWN_KEYS = {"audit_key": SecretStr("api-test-audit-key"), "session_key": SecretStr("api-test-session-key")}
RESIDENTS = 300


def project_outbox(engine: Engine, state: ResolverState) -> int:
    """Deliver the resolver's unpublished outbox straight into the projection (no broker needed)."""
    rows = state.outbox(unpublished_only=True)
    projection = ProfileProjection(engine, id_hash_key=KEY)
    with engine.connect() as conn:
        from store.tables import consumer_positions

        last = conn.execute(select(consumer_positions.c.offset).where(
            consumer_positions.c.consumer == ProfileProjection.CONSUMER)).scalar() or -1
    applied = projection.apply([DeliveredEvent("profile-events", 0, last + 1 + i, row.event())
                                for i, row in enumerate(rows)])
    state.publish_outbox(lambda k, v: None, lambda: None)
    return applied


@cache
def _template(directory: str) -> Path:
    path = Path(directory) / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    state = resolver_state(engine)
    state.resolve_batch(list(district(RESIDENTS)), default_matcher())
    project_outbox(engine, state)
    state.engine.dispose()  # the resolver's own file, beside the store's (both copied below)
    engine.dispose()
    return path


@dataclass
class World:
    engine: Engine
    settings: Settings
    community_a: str  # the community with most residents
    community_b: str  # another one
    users: UserStore

    def app_client(self) -> TestClient:
        app = create_app(self.engine, ["public_security"], self.settings)
        return TestClient(app, raise_server_exceptions=False)

    def login(self, client: TestClient, username: str) -> TestClient:
        answer = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                     "csrf": form_token(client)}, follow_redirects=False)
        assert answer.status_code == 303, answer.text
        return client

    def profiles_in(self, community: str) -> list[Profile]:
        with self.engine.connect() as conn:
            return [Profile.model_validate(r.doc) for r in conn.execute(
                select(profiles.c.doc).where(profiles.c.community == community, profiles.c.status == "active")
                .order_by(profiles.c.profile_id))]

    def one(self, community: str, *, with_id: bool = False, with_phone: bool = False) -> Profile:
        for p in self.profiles_in(community):
            if with_id and p.golden.id_number is None:
                continue
            if with_phone and p.golden.phones is None:
                continue
            if p.golden.name is None:
                continue
            return p
        raise AssertionError(f"no suitable profile in {community}")


def build_world(tmp: Path, cache_dir: Path) -> World:
    path = tmp / "store.db"
    template = _template(str(cache_dir))
    shutil.copy(template, path)
    shutil.copy(template.with_name("template-resolver.db"), tmp / "store-resolver.db")
    return populated_world(make_engine(f"sqlite:///{path}"), tmp)


def populated_world(engine: Engine, tmp: Path) -> World:
    """The world's users on a store already holding the district's profiles: a worker for each of
    the two busiest communities, a steward, an auditor, an admin and civil affairs' machine account."""
    with engine.connect() as conn:
        counts = Counter(r.community for r in conn.execute(
            select(profiles.c.community).where(profiles.c.status == "active", profiles.c.community.is_not(None))))
    (a, _), (b, _) = counts.most_common(2)
    users = UserStore(engine)
    users.add("worker_a", PASSWORD, "community_worker", communities=[a])
    users.add("worker_b", PASSWORD, "community_worker", communities=[b])
    users.add("steward", PASSWORD, "steward")
    users.add("auditor", PASSWORD, "auditor")
    users.add("admin", PASSWORD, "admin")
    users.add("dept_civil", PASSWORD, "department_reader", department="civil_affairs")
    settings = Settings(data_dir=tmp / "var", id_hash_key=KEY, _env_file=None)
    return World(engine=engine, settings=settings, community_a=a, community_b=b, users=users)


def kafka_settings(tmp: Path, bootstrap_servers: str, name: str, **extra: Any) -> Settings:
    """Settings for a world whose decisions go to the session's real broker: its own topic prefix,
    the world's hash key, the hub's topics created."""
    from onceonly import bootstrap

    prefix = f"{name}{abs(hash(tmp)) % 10**6}."
    settings = Settings(data_dir=tmp / "var", kafka_bootstrap=bootstrap_servers, topic_prefix=prefix,
                        app_id=f"onceonly-{prefix.rstrip('.')}", id_hash_key=KEY, _env_file=None,
                        **extra)
    bootstrap.prepare_topics(settings)
    return settings
