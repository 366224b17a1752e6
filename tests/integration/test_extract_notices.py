"""Merge and split notices in the departments' extract feeds: after a steward's confirm merges two
profiles and a split moves a record out, each department whose previous extract held the profile
finds a notice (old id → new id, the granted fields that now read differently), once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from onceonly import bootstrap
from onceonly.bootstrap import resolver_state
from onceonly.settings import Settings
from schemas.profile_events import ConfirmMatch, ProfileSplit, ReviewRequested, SplitProfile
from tests.integration.api_world import KEY, World, build_world, project_outbox


@pytest.fixture
def world(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path, tmp_path_factory.getbasetemp())


def feed(settings: Settings, department: str) -> list[dict[str, Any]]:
    path = settings.data_dir / "extracts" / department / "notices.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_a_merge_and_a_split_reach_every_department_holding_the_profile_once(world: World, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", id_hash_key=KEY, database_url=f"sqlite:///{tmp_path / 'store.db'}",
                        _env_file=None)
    projection = bootstrap.profile_projection(settings)
    grants = bootstrap.grants()
    write_extracts = bootstrap.hub(settings).publishing.write_extracts
    write_extracts(list(projection.profiles()), grants)
    assert all(feed(settings, d) == [] for d in grants.departments)

    state = resolver_state(world.engine)
    review = next(row.event() for row in state.outbox() if row.event_type == "ReviewRequested")
    assert isinstance(review, ReviewRequested)
    away = state.partition()[f"{review.record.source}:{review.record.record_id}"]
    survivor = review.candidate_profile_ids[0]
    now = datetime.now(UTC)
    merged = state.handle_command(ConfirmMatch(steward="s", issued_at=now, review_id=review.review_id,
                                               profile_id=survivor))
    assert any(type(e).__name__ == "ProfilesMerged" for e in merged)
    held = next(p for p in projection.profiles() if p.is_active and len(p.live_records) >= 2 and p.profile_id != survivor)
    moved = sorted(held.live_records)[-1]
    split = state.handle_command(SplitProfile(steward="s", issued_at=now, profile_id=held.profile_id,
                                              record_keys=(moved,), reason="两个人"))
    new_profile = next(e.to_profile for e in split if isinstance(e, ProfileSplit))
    project_outbox(world.engine, state)

    write_extracts(list(projection.profiles()), grants)
    profiles = {p.profile_id: p for p in projection.profiles()}
    gone = away if not profiles[away].is_active else survivor  # the older id survives
    kept = profiles[gone].merged_into
    for department in grants.departments:
        notices = feed(settings, department)
        kinds = {(n["kind"], n["old_profile_id"], n["new_profile_id"]) for n in notices}
        assert kinds == {("merged", gone, kept), ("split", held.profile_id, new_profile)}, (department, notices)
        fields = set(grants.departments[department].field_names)
        assert all(set(n["changed_fields"]) <= fields for n in notices)
        extract = (settings.data_dir / "extracts" / department / "profiles.jsonl").read_text(encoding="utf-8")
        assert f'"{gone}"' not in extract and f'"{new_profile}"' in extract
    assert json.loads((settings.data_dir / "extracts" / "civil_affairs" / "grant.json").read_text())["notices"] == 2

    write_extracts(list(projection.profiles()), grants)  # nothing new: no notice again
    assert all(len(feed(settings, d)) == 2 for d in grants.departments)
