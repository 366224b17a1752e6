"""The SQL transport against public security's household register, on SQLite and on Postgres.

The department system is the table ``户籍人口`` written by ``simulators.public_security``; the
mapping is the real ``mappings/public_security.yaml`` with its URL pointed at the test's database.
Besides the connector contract: equal ``updated_at`` across a page boundary, an unavailable
database retried (then given up on, clearly), deaths as facts, rows without a watermark, and a
district evolving between pulls.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text, update

from connectors.kafka_sink import KafkaSink
from connectors.pull import RunCounts
from connectors.sql import SqlSourceError
from localinfra.postgres_server import PostgresServer
from onceonly import bootstrap
from onceonly.settings import Settings
from simulators import public_security as ps
from simulators.district import apply_changes, department_rows, evolve, generate_district
from tests.helpers import PROJECT
from tests.integration.connector_contract import ConnectorContract, DepartmentSystem

pytestmark = pytest.mark.kafka

MAPPING: dict[str, Any] = yaml.safe_load((PROJECT / "mappings" / "public_security.yaml").read_text(encoding="utf-8"))
SEED = 7


def spec_for(url: str, **transport: Any) -> dict[str, Any]:
    """The real mapping, reading ``url`` (no env var: the test says where the database is)."""
    settings = {k: v for k, v in MAPPING["transport"].items() if k != "url_env"}
    # small pages, so that every test crosses page boundaries
    return {**MAPPING, "transport": {**settings, "url": url, "page_rows": 250, "key_scan_rows": 1000, **transport}}


class PublicSecurityDatabase(ConnectorContract):
    """The contract and the SQL-specific tests; subclasses say where the database lives."""

    kept_bad_rows = 3  # a birth date in the future, 性别 "妖", 民族 "火星族": kept, the field empty

    def database_url(self, tmp_path: Path) -> str:
        raise NotImplementedError

    # -- hooks -------------------------------------------------------------------------------------
    def department(self, tmp_path: Path, n_rows: int, **transport: Any) -> DepartmentSystem:
        url = self.database_url(tmp_path)
        engine = ps.create_department(url, n_residents=n_rows, seed=SEED, n_rows=n_rows)
        assert len(ps.person_ids(engine)) == n_rows
        return DepartmentSystem(spec_for(url, **transport), {"engine": engine, "url": url})

    def change_one(self, system: DepartmentSystem) -> str:
        person = ps.person_ids(_engine(system))[3]
        ps.update_contact(_engine(system), person, phone="13905140000", address="江苏省南京市秦淮区中华路1号")
        return person

    def delete_one(self, system: DepartmentSystem) -> str:
        person = ps.person_ids(_engine(system))[5]
        ps.delete_person(_engine(system), person)
        return person

    def add_bad_rows(self, system: DepartmentSystem) -> int:
        return ps.insert_bad_rows(_engine(system))

    def stop(self, system: DepartmentSystem) -> None:
        _engine(system).dispose()

    # -- SQL-specific ------------------------------------------------------------------------------
    def test_equal_updated_at_across_a_page_boundary_loses_nothing(self, hub_settings: Settings,
                                                                   tmp_path: Path) -> None:
        # 30 rows written in the same second, pages of 7: a crash after the first page must resume
        # inside that second, at the next key, neither skipping nor repeating a row.
        system = self.department(tmp_path, 30, page_rows=7)
        try:
            with _engine(system).begin() as conn:
                conn.execute(update(ps.household_register).values(updated_at=datetime(2024, 7, 1, 9, 0, 0)))

            class Crash(Exception):
                pass

            def crash(_: RunCounts) -> None:
                raise Crash

            with KafkaSink(hub_settings.kafka_bootstrap or "") as sink, pytest.raises(Crash):
                bootstrap.connector(hub_settings, system.load_spec(), sink, on_page=crash).run()
            resumed = self.pull(hub_settings, system)
            assert (resumed.read, resumed.events) == (23, 23)
            raw = self.raw(hub_settings, system)
            assert Counter(r.record_id for r in raw) == Counter({pid: 1 for pid in ps.person_ids(_engine(system))})
            again = self.pull(hub_settings, system)
            assert (again.read, again.events, again.ended) == (0, 0, 0)
        finally:
            self.stop(system)

    def test_a_row_committed_late_behind_the_cursor_is_read_with_a_lookback(self, hub_settings: Settings,
                                                                          tmp_path: Path) -> None:
        # A long transaction stamps its row when it begins and commits after a quicker one moved the
        # cursor past that stamp: without a lookback the row is never read; with one it is read
        # once, and the rows re-read in the window send nothing.
        system = self.department(tmp_path, self.rows)
        try:
            self.pull(hub_settings, system)
            engine = _engine(system)
            template = next(department_rows(generate_district(1, seed=98), 98, "public_security"))
            begun = ps.next_stamp(engine)
            ps.update_contact(engine, ps.person_ids(engine)[0], phone="13905140001")  # stamped after `begun`
            late = {**template, "人员编号": "GA0000000777", "updated_at": begun}
            with engine.connect() as conn:
                conn.execute(ps.household_register.insert(), [ps._stored(late)])  # not committed yet
                during = self.pull(hub_settings, system)
                conn.commit()
            assert (during.events, during.read) == (1, 1)  # the quick one only
            missed = self.pull(hub_settings, system)
            assert missed.events == 0  # behind the cursor: never read without a lookback
            looking = DepartmentSystem(spec_for(system.state["url"], lookback=3600), system.state)
            caught = self.pull(hub_settings, looking)
            assert caught.events == 1 and caught.read == caught.events + caught.unchanged + caught.dead_letters
            assert [r.record_id for r in self.raw(hub_settings, looking)].count("GA0000000777") == 1
            again = self.pull(hub_settings, looking)
            assert again.events == 0 and again.unchanged >= 1
        finally:
            self.stop(system)

    def test_a_death_is_a_new_version_not_an_end(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            self.pull(hub_settings, system)
            person = ps.person_ids(_engine(system))[0]
            ps.register_death(_engine(system), person, date(2024, 8, 2))
            counts = self.pull(hub_settings, system)
            assert (counts.events, counts.ended) == (1, 0)
            last = [r for r in self.raw(hub_settings, system) if r.record_id == person][-1]
            assert last.change == "upsert" and last.payload["人员状态"] == "死亡注销"
            assert "updated_at" not in last.payload  # the watermark is the cursor, not a fact
        finally:
            self.stop(system)

    def test_a_row_without_updated_at_is_collected_once(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            row = {**department_rows(generate_district(1, seed=99), 99, "public_security").__next__(),
                   "人员编号": "GA0000000001", "updated_at": None}
            ps.insert_rows(_engine(system), [row])
            first = self.pull(hub_settings, system)
            second = self.pull(hub_settings, system)
            assert (first.events, second.events, second.unchanged, second.ended) == (self.rows + 1, 0, 1, 0)
        finally:
            self.stop(system)

    def test_an_evolving_district_sends_only_what_changed(self, hub_settings: Settings, tmp_path: Path) -> None:
        url = self.database_url(tmp_path)
        engine = ps.create_department(url, 1000, seed=SEED)
        residents = list(generate_district(1000, seed=SEED))  # the same district the table was made from
        system = DepartmentSystem(spec_for(url), {"engine": engine})
        try:
            self.pull(hub_settings, system)
            later = list(apply_changes(residents, evolve(residents, seed=SEED, step=1)))
            inserted, updated = ps.apply_snapshot(engine, department_rows(later, SEED, "public_security"))
            assert inserted and updated
            counts = self.pull(hub_settings, system)
            assert (counts.read, counts.events, counts.ended) == (inserted + updated, inserted + updated, 0)
        finally:
            self.stop(system)

    def test_an_unreachable_database_fails_the_run_with_a_clear_message(self, hub_settings: Settings,
                                                                          tmp_path: Path) -> None:
        system = self.department(tmp_path, 3)
        try:
            spec = {**system.spec, "transport": {**system.spec["transport"], "retry_for": 1,
                                                 "url": self.unreachable_url(tmp_path)}}
            with KafkaSink(hub_settings.kafka_bootstrap or "") as sink:
                connector = bootstrap.connector(hub_settings, DepartmentSystem(spec).load_spec(), sink)
                with pytest.raises(SqlSourceError, match=r"户籍人口.*unreachable after \d+ attempts"):
                    connector.run()
            assert connector.state.runs()[-1]["status"] == "failed"
        finally:
            self.stop(system)

    def unreachable_url(self, tmp_path: Path) -> str:
        raise NotImplementedError


def _engine(system: DepartmentSystem) -> Engine:
    engine: Engine = system.state["engine"]
    return engine


class TestSqliteDepartment(PublicSecurityDatabase):
    def database_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'police' / 'public_security.db'}"

    def unreachable_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'nowhere' / 'public_security.db'}"

    def test_a_file_moved_away_briefly_is_retried(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            db = Path(system.state["url"].removeprefix("sqlite:///"))
            aside = db.with_name("moved-for-backup.db")
            db.rename(aside)
            back = threading.Timer(1.5, aside.rename, args=(db,))
            back.start()
            started = time.monotonic()
            counts = self.pull(hub_settings, system)
            back.join()
            assert time.monotonic() - started >= 1.5  # it did wait for the file
            assert (counts.read, counts.events) == (self.rows, self.rows)
            assert not aside.exists()  # read-only: no empty database was created in its place
        finally:
            self.stop(system)

    def test_undecodable_bytes_in_a_text_column_are_a_dead_letter(self, hub_settings: Settings,
                                                                 tmp_path: Path) -> None:
        system = self.department(tmp_path, 3)
        try:
            with _engine(system).begin() as conn:
                conn.execute(text('UPDATE "户籍人口" SET "现住址" = :raw WHERE "人员编号" = :pid'),
                             {"raw": b"\x80\x81", "pid": ps.person_ids(_engine(system))[0]})
            counts = self.pull(hub_settings, system)
            assert (counts.read, counts.events, counts.dead_letters) == (3, 2, 1)
        finally:
            self.stop(system)


@pytest.mark.postgres
class TestPostgresDepartment(PublicSecurityDatabase):
    server: PostgresServer

    @pytest.fixture(autouse=True)
    def _server(self, request: pytest.FixtureRequest) -> None:
        self.server = request.getfixturevalue("postgres_server")

    def database_url(self, tmp_path: Path) -> str:
        return self.server.fresh_database(f"ps_{tmp_path.name}")

    def unreachable_url(self, tmp_path: Path) -> str:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def test_a_connection_refused_then_accepted_is_retried(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            with LateProxy(self.server.port, listen_after=1.5) as proxy:
                url = system.state["url"].replace(f":{self.server.port}/", f":{proxy.port}/")
                spec = {**system.spec, "transport": {**system.spec["transport"], "url": url}}
                started = time.monotonic()
                counts = self.pull(hub_settings, DepartmentSystem(spec))
            assert time.monotonic() - started >= 1.5
            assert (counts.read, counts.events) == (self.rows, self.rows)
        finally:
            self.stop(system)


class LateProxy:
    """A TCP port that refuses connections until ``listen_after`` seconds, then forwards them to
    ``target_port``: a database server that is down, then back."""

    def __init__(self, target_port: int, *, listen_after: float) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.target_port, self.listen_after = target_port, listen_after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> LateProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        if self._stop.wait(self.listen_after):
            return
        with socket.create_server(("127.0.0.1", self.port)) as server:
            server.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_the_mapping_file_reads_the_url_from_the_environment_first(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    from connectors.spec import ConnectorSpec
    from connectors.sql import SqlTransport

    spec = ConnectorSpec.model_validate(MAPPING)
    assert SqlTransport.of(spec, tmp_path).url == ps.default_url(tmp_path)
    monkeypatch.setenv("ONCEONLY_PUBLIC_SECURITY_URL", "postgresql+psycopg://police@db.example/huji")
    assert SqlTransport.of(spec, tmp_path).url == "postgresql+psycopg://police@db.example/huji"
