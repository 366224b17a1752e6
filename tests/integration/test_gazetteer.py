"""The gazetteer on the real broker: the grid centre's file places residents, a steward's
correction re-derives the profiles it touches, and a replay rebuilds the same store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from core.access import Principal
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import Settings
from services.gazetteer import CorrectPlace
from store.audit import AuditLog
from store.engine import make_engine
from store.place_tables import places, profile_places
from store.profile_tables import profiles
from store.replay import applied_upto, rebuild
from tests.helpers import cli, cli_env, eventually
from tests.integration.test_pipeline import _run

pytestmark = pytest.mark.kafka

STEWARD = Principal(user_id="u-steward", username="steward_li", role="steward")


def _community(engine: Engine, profile_id: str) -> tuple[str | None, str | None]:
    with engine.connect() as conn:
        row = conn.execute(select(profiles.c.community, profiles.c.grid)
                           .where(profiles.c.profile_id == profile_id)).one()
    return row.community, row.grid


def test_a_stewards_correction_moves_the_residents_of_a_building_and_replay_agrees(
        hub_settings: Settings, tmp_path: Path) -> None:
    _run(hub_settings, tmp_path, workers=1)
    engine = bootstrap.engine(hub_settings)
    with engine.connect() as conn:
        standard = conn.execute(select(places.c.place_key).where(places.c.origin == "standard_address")).scalars().all()
        placed = conn.execute(select(profiles.c.profile_id, profiles.c.community)
                              .where(profiles.c.status == "active")).all()
        candidates = {r.profile_id: json.loads(r.candidates) for r in conn.execute(select(profile_places))}
    assert standard, "the grid centre's file reached the gazetteer"
    assert sum(1 for p in placed if p.community) / len(placed) > 0.95  # nearly everyone is placed
    # a building whose residents the file places, and a resident every record of whose dwelling names
    # that building: one whose other records place them elsewhere (a move) stays where most of them
    # say, whatever a steward decides about one building (profile ids follow the run's event ids, so
    # which profile sorts first differs from run to run)
    profile_id, key = next((pid, str(dwellings[0])) for pid, c in sorted(candidates.items())
                           if (dwellings := [x["keys"][0] if x["keys"] else None for x in c
                                             if x["kind"] == "residential"])
                           and dwellings[0] in standard and set(dwellings) == {dwellings[0]})

    audit = AuditLog(engine)
    service = bootstrap.gazetteer_service(hub_settings, engine, audit)
    service.correct(STEWARD, CorrectPlace(key, "测试社区", "第9网格", "楼栋划入新社区"))
    worker = spawn(cli("worker"), tmp_path / "worker-again.log", env=cli_env(hub_settings))
    try:
        eventually(lambda: _community(engine, profile_id) == ("测试社区", "测试社区/第9网格"), timeout=120, every=1.0)
    finally:
        stop(worker)
    assert any(e.action == "correct_place" for e in audit.entries(limit=50))

    out = subprocess.run(cli("replay"), env=cli_env(hub_settings), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "identical" in out.stdout

    # A correction no worker has applied yet: a full replay differs from the live store, a replay
    # up to what the store has applied (what the verify flow compares) does not.
    service.correct(STEWARD, CorrectPlace(key, "另一社区", "第1网格", "尚未生效"))
    upto = applied_upto(engine, profile_events_topic=hub_settings.profile_events_topic,
                        places_topic=hub_settings.places_topic)
    live = bootstrap.profile_projection(hub_settings, engine).store_checksum()
    kwargs = {"id_hash_key": hub_settings.id_hash_key.get_secret_value(), "bootstrap": bootstrap.kafka_bootstrap(hub_settings),
              "profile_events_topic": hub_settings.profile_events_topic, "places_topic": hub_settings.places_topic}
    assert rebuild(make_engine(f"sqlite:///{tmp_path / 'upto.db'}"), upto=upto, **kwargs).checksum == live  # type: ignore[arg-type]
    assert rebuild(make_engine(f"sqlite:///{tmp_path / 'all.db'}"), **kwargs).checksum != live  # type: ignore[arg-type]
