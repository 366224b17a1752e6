"""The contract every connector kind honours, against its real department system and the real broker.

A transport's test module subclasses ``ConnectorContract`` and says how to build, change and
break its department system; the tests below then run unchanged for every kind.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connectors.kafka_sink import KafkaSink
from connectors.pull import RunCounts
from connectors.spec import ConnectorSpec
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import DeadLetter, SourceRecord
from tests.helpers import cli, cli_env, eventually, read_topic, topic_size


@dataclass
class DepartmentSystem:
    """A running (or written) department system and the mapping file that reads it."""

    spec: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)

    def load_spec(self) -> ConnectorSpec:
        return ConnectorSpec.model_validate(self.spec)


class ConnectorContract:
    """Subclass and implement the four hooks; ``rows`` is how many rows the system starts with."""

    rows = 30
    kill_rows = 12000  # large enough that a SIGKILL lands mid-pull (pulls got faster with crc32c: 3000 raced)
    # Of the simulator's bad rows, those bad only in a field that does not identify anyone (an
    # unknown sex code, a birth date in the future): the hub keeps them, the field empty with a
    # warning (issue 13), so they are events, not dead letters.
    kept_bad_rows = 0

    # -- hooks -------------------------------------------------------------------------------------
    def department(self, tmp_path: Path, n_rows: int) -> DepartmentSystem:
        raise NotImplementedError

    def change_one(self, system: DepartmentSystem) -> str:
        """Change one row's content; return its record id."""
        raise NotImplementedError

    def delete_one(self, system: DepartmentSystem) -> str:
        """Remove (or mark deleted) one row; return its record id."""
        raise NotImplementedError

    def add_bad_rows(self, system: DepartmentSystem) -> int:
        """Add unreadable rows (bad bytes, no id, future birth date, 2 MB field, formula, unknown code…)."""
        raise NotImplementedError

    def stop(self, system: DepartmentSystem) -> None:
        """Stop servers the system started (nothing to do for files)."""

    # -- helpers -----------------------------------------------------------------------------------
    def pull(self, settings: Settings, system: DepartmentSystem) -> RunCounts:
        with KafkaSink(settings.kafka_bootstrap or "") as sink:
            return bootstrap.connector(settings, system.load_spec(), sink).run()

    def raw(self, settings: Settings, system: DepartmentSystem) -> list[SourceRecord]:
        records = read_topic(settings.kafka_bootstrap or "", settings.raw_topic(system.spec["source"]))
        return [r for r in records if isinstance(r, SourceRecord)]

    # -- the contract ------------------------------------------------------------------------------
    def test_first_pull_sends_every_row_once(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            counts = self.pull(hub_settings, system)
            assert (counts.read, counts.events, counts.unchanged, counts.dead_letters) == (self.rows, self.rows, 0, 0)
            raw = self.raw(hub_settings, system)
            assert len({r.record_id for r in raw}) == len(raw) == self.rows
        finally:
            self.stop(system)

    def test_a_second_pull_without_changes_sends_nothing(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            self.pull(hub_settings, system)
            again = self.pull(hub_settings, system)
            assert (again.events, again.ended, again.dead_letters) == (0, 0, 0)
            assert len(self.raw(hub_settings, system)) == self.rows
        finally:
            self.stop(system)

    def test_a_changed_row_sends_exactly_one_new_version(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            self.pull(hub_settings, system)
            changed = self.change_one(system)
            counts = self.pull(hub_settings, system)
            assert (counts.events, counts.ended) == (1, 0)
            versions = [r for r in self.raw(hub_settings, system) if r.record_id == changed]
            assert len(versions) == 2 and versions[0].content_hash != versions[1].content_hash
        finally:
            self.stop(system)

    def test_a_deleted_row_sends_one_end_event(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            self.pull(hub_settings, system)
            gone = self.delete_one(system)
            first = self.pull(hub_settings, system)
            second = self.pull(hub_settings, system)
            assert first.ended + first.events == 1 and (second.ended, second.events) == (0, 0)
            ends = [r for r in self.raw(hub_settings, system) if r.change == "end"]
            assert [r.record_id for r in ends] == [gone]
        finally:
            self.stop(system)

    def test_bad_rows_go_to_dead_letters_and_counts_add_up(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            bad = self.add_bad_rows(system)
            refused = bad - self.kept_bad_rows
            counts = self.pull(hub_settings, system)
            assert counts.dead_letters == refused
            assert counts.read == counts.events + counts.unchanged + counts.dead_letters
            letters = [d for d in read_topic(hub_settings.kafka_bootstrap or "", hub_settings.deadletter_topic)
                       if isinstance(d, DeadLetter)]
            assert len(letters) == refused
            assert all(d.source == system.spec["source"] and d.location and d.reason for d in letters)
            runs = bootstrap.connector(hub_settings, system.load_spec(), None).state.runs()  # type: ignore[arg-type]
            assert runs[-1]["dead_letters"] == refused and runs[-1]["read"] == counts.read
        finally:
            self.stop(system)

    def test_sigkill_mid_pull_then_restart_leaves_every_row_once(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.kill_rows)
        mappings = tmp_path / "mappings"
        mappings.mkdir(exist_ok=True)
        (mappings / f"{system.spec['source']}.yaml").write_text(yaml.safe_dump(system.spec, allow_unicode=True))
        settings = hub_settings.model_copy(update={"mappings_dir": mappings})
        bootstrap.prepare_topics(settings)
        env = cli_env(settings) | {"ONCEONLY_MAPPINGS_DIR": str(mappings)}
        try:
            first = subprocess.Popen(cli("pull", system.spec["source"]), env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
            topic = settings.raw_topic(system.spec["source"])
            eventually(lambda: topic_size(settings.kafka_bootstrap or "", topic) > 0 or first.poll() is not None,
                       timeout=120, every=0.05)
            assert first.poll() is None, "the pull finished before it could be killed: raise kill_rows"
            first.send_signal(signal.SIGKILL)
            first.wait()
            assert topic_size(settings.kafka_bootstrap or "", topic) < self.kill_rows
            done = subprocess.run(cli("pull", system.spec["source"]), env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, done.stderr[-2000:]
            raw = self.raw(settings, system)
            versions = Counter((r.record_id, r.content_hash) for r in raw)
            assert len({rid for rid, _ in versions}) == self.kill_rows
            assert max(versions.values()) == 1, "a version reached the topic twice"
        finally:
            self.stop(system)
