"""The four department systems of one synthetic district, brought up the way each simulator does it.

For the demo (and anyone who wants the whole district on one machine): one district is generated
once, then each department holds its own rendering of it, in its own kind of system, where the
department's mapping file (``mappings/*.yaml``) finds it:

* 公安 public security: the SQLite database at the mapping's default URL
  (``{data_dir}/departments/public_security.db``), table ``户籍人口``;
* 人社 social security: its HTTP API on a free loopback port, its rows in
  ``departments/social_security.db``; the URL and the client credentials are put in the
  environment variables the mapping file names;
* 民政 civil affairs: ledgers in the drop folder (``inbox/civil_affairs``), one file per street,
  the streets shared out between GB18030 CSV, UTF-8-with-BOM CSV and XLSX exports;
* 住建 housing: its registry publishing every registration as a change event to its own topic
  (``housing.changes``) on the hub's broker;
* 社区 community: the door-to-door visits a worker's app posts to the hub's ingest API
  (:meth:`DepartmentSystems.post_visits`; the hub's API must be running).

With ``bad_rows`` each system also holds the mistakes its simulator knows how to make (a future
birth date, a formula, a 2 MB cell, a missing key, undecodable bytes…): the hub must turn each
into a dead letter, and :attr:`DepartmentSystems.bad` says how many per source.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, update

from onceonly.settings import Settings

if TYPE_CHECKING:
    from simulators.civil_affairs import LedgerFormat

Row = dict[str, str]

# The grid centre's standard-address file (标准地址库) first: the gazetteer every profile is placed by.
DEPARTMENTS = ("grid_centre", "public_security", "social_security", "civil_affairs", "housing", "community")
SOCIAL_SECURITY_CLIENT_ID = "onceonly-demo"
CIVIL_AFFAIRS_FORMATS: tuple[LedgerFormat, ...] = ("gb18030", "utf-8-sig", "xlsx")


@dataclass
class DepartmentSystems:
    """What runs, where, and what each department holds (rows good and bad)."""

    data_dir: Path
    residents: int
    seed: int
    public_security_url: str
    public_security: Engine
    public_security_ids: list[str]  # 人员编号 of the district's rows (not the bad ones)
    social_security: Any  # simulators.social_security.SocialSecurityApi
    civil_affairs_folder: Path
    civil_affairs_files: dict[LedgerFormat, int]  # format → files exported in it
    housing: Any  # simulators.housing.HousingRegistry
    community_visits: list[Row]
    rows: dict[str, int] = field(default_factory=dict)  # good rows each department holds
    bad: dict[str, int] = field(default_factory=dict)  # deliberately bad rows each holds
    env: dict[str, str] = field(default_factory=dict)  # what the connectors read from the environment
    grid_centre_folder: Path = Path("inbox/grid_centre")

    def describe(self) -> dict[str, str]:
        """One line per department: which system, and where."""
        files = ", ".join(f"{n} {fmt}" for fmt, n in self.civil_affairs_files.items())
        return {
            "public_security": f"SQL database {self.public_security_url.removeprefix('sqlite:///')} (table 户籍人口)",
            "social_security": f"HTTP API {self.social_security.base_url} (OAuth client {SOCIAL_SECURITY_CLIENT_ID})",
            "civil_affairs": f"drop folder {self.civil_affairs_folder} ({files})",
            "housing": f"change events on its own topic {self.housing.topic}",
            "community": "visits posted by the workers' app to the hub's ingest API",
            "grid_centre": f"standard-address file in {self.grid_centre_folder}",
        }

    def post_visits(self, api_url: str, token: str, *, batch_rows: int = 1000) -> dict[str, int]:
        """The community workers' app posts every visit (and the bad ones) to the ingest API;
        returns the hub's counts summed over the batches."""
        from simulators.community import CommunityWorker, bad_visits

        totals = {"read": 0, "events": 0, "unchanged": 0, "dead_letters": 0}
        with CommunityWorker(api_url, token, batch_rows=batch_rows) as worker:
            answers = worker.post_all(self.community_visits)
            if self.bad.get("community") and self.community_visits:
                answers.append(worker.post(bad_visits(self.community_visits[0]), batch_id="visits-to-check"))
        for answer in answers:
            for name in totals:
                totals[name] += int(answer[name])
        return totals

    def restamp_public_security(self, n_rows: int) -> int:
        """The station's overnight batch re-stamps ``n_rows`` rows (``updated_at`` only, same
        facts): a connector reads them again and must send nothing. Returns how many."""
        from simulators.public_security import KEY, WATERMARK, household_register, next_stamp

        ids = self.public_security_ids[:n_rows]  # good rows only: a bad one is refused every time it is read
        stamp = next_stamp(self.public_security)
        with self.public_security.begin() as conn:
            conn.execute(update(household_register).where(household_register.c[KEY].in_(ids))
                         .values({WATERMARK: stamp}))
        return len(ids)


@contextlib.contextmanager
def department_systems(settings: Settings, kafka_bootstrap: str, residents: int, seed: int = 1, *,
                       bad_rows: bool = True) -> Iterator[DepartmentSystems]:
    """Generate the district and bring up every department system under ``settings.data_dir``;
    while inside, the environment holds what the mapping files name (restored on exit)."""
    from connectors.spec import ConnectorSpec
    from onceonly import bootstrap
    from simulators import public_security as ps
    from simulators.civil_affairs import write_ledger
    from simulators.community import bad_visits
    from simulators.district import department_rows, generate_district
    from simulators.housing import HousingRegistry
    from simulators.social_security import SocialSecurityApi

    data_dir = settings.data_dir
    specs = {s: ConnectorSpec.load(bootstrap.mapping_path(settings, s)) for s in DEPARTMENTS}
    district = list(generate_district(residents, seed=seed))

    def rows_of(department: str) -> Iterator[dict[str, Any]]:
        return department_rows(district, seed, department)  # type: ignore[arg-type]

    bad: dict[str, int] = {}
    counts: dict[str, int] = {}

    # 公安: the table where the mapping's default URL points ({data_dir} filled in)
    ps_url = str(specs["public_security"].transport["url"]).replace("{data_dir}", str(data_dir))
    ps_engine = ps.engine_for(ps_url)
    social: SocialSecurityApi | None = None
    housing: HousingRegistry | None = None
    try:
        ps.metadata.drop_all(ps_engine)
        ps.metadata.create_all(ps_engine)
        counts["public_security"] = ps.insert_rows(ps_engine, rows_of("public_security"))
        ps_ids = ps.person_ids(ps_engine)
        if bad_rows:
            bad["public_security"] = ps.insert_bad_rows(ps_engine)

        # 民政: one file per street, the streets shared out between the three export formats
        folder = Path(specs["civil_affairs"].transport.get("path", "inbox/civil_affairs"))
        folder = folder if folder.is_absolute() else data_dir / folder
        ledger_rows = [_text(r) for r in rows_of("civil_affairs")]
        streets = sorted({r["所属街道"] for r in ledger_rows})
        by_format = {fmt: [r for r in ledger_rows if streets.index(r["所属街道"]) % 3 == i]
                     for i, fmt in enumerate(CIVIL_AFFAIRS_FORMATS)}
        ledgers = {fmt: write_ledger(folder, rows, fmt=fmt) for fmt, rows in by_format.items() if rows}
        counts["civil_affairs"] = len(ledger_rows)
        if bad_rows and "gb18030" in ledgers:
            bad["civil_affairs"] = ledgers["gb18030"].inject_bad_rows()
        files = {fmt: sum(1 for p in folder.iterdir() if _file_format(p) == fmt) for fmt in CIVIL_AFFAIRS_FORMATS}

        # 人社: the API on a free loopback port, credentials for the connector in the environment
        secret = secrets.token_urlsafe(16)
        ss_db = data_dir / "departments" / "social_security.db"
        ss_db.parent.mkdir(parents=True, exist_ok=True)
        social = SocialSecurityApi(ss_db, clients={SOCIAL_SECURITY_CLIENT_ID: secret})
        counts["social_security"] = social.load(rows_of("social_security"))
        if bad_rows:
            bad["social_security"] = social.add_bad_records()
        social.start()
        ss = specs["social_security"].transport
        env = {ss["base_url_env"]: social.base_url, ss["client_id_env"]: SOCIAL_SECURITY_CLIENT_ID,
               ss["client_secret_env"]: secret}
        # 公安 and 住建: the mapping's defaults are the demo's systems, whatever the shell says
        env[specs["public_security"].transport["url_env"]] = ps_url
        env[specs["housing"].transport["bootstrap_env"]] = kafka_bootstrap

        # 住建: every registration published as a change event on the department's own topic
        housing = HousingRegistry(kafka_bootstrap, specs["housing"].transport["topic"])
        housing.create_topic()
        counts["housing"] = housing.register(_text(r) for r in rows_of("housing"))
        if bad_rows:
            bad["housing"] = housing.publish_bad()

        # 网格中心: the standard-address file, with its gaps (new buildings) and a few wrong rows
        from simulators.district.gazetteer import standard_address_rows, write_standard_addresses

        grid_folder = Path(specs["grid_centre"].transport.get("path", "inbox/grid_centre"))
        grid_folder = grid_folder if grid_folder.is_absolute() else data_dir / grid_folder
        counts["grid_centre"] = write_standard_addresses(grid_folder / "标准地址库.csv",
                                                         standard_address_rows(district, seed))

        # 社区: the visits the workers' app will post
        visits = [_text(r) for r in rows_of("community")]
        counts["community"] = len(visits)
        if bad_rows and visits:
            bad["community"] = len(bad_visits(visits[0]))

        systems = DepartmentSystems(
            data_dir=data_dir, residents=residents, seed=seed, public_security_url=ps_url,
            public_security=ps_engine, public_security_ids=ps_ids, social_security=social,
            civil_affairs_folder=folder, civil_affairs_files=files, housing=housing, community_visits=visits,
            rows=counts, bad=bad, env=env, grid_centre_folder=grid_folder)
        with _environment(env):
            yield systems
    finally:
        if social is not None:
            social.close()
        if housing is not None:
            housing.close()
        ps_engine.dispose()


def _text(row: Mapping[str, Any]) -> Row:
    return {k: "" if v is None else str(v) for k, v in row.items()}


def _file_format(path: Path) -> str:
    """How a clerk exported the file: XLSX, or CSV with a UTF-8 BOM (wins), else GB18030."""
    if path.suffix == ".xlsx":
        return "xlsx"
    with path.open("rb") as fh:
        return "utf-8-sig" if fh.read(3) == b"\xef\xbb\xbf" else "gb18030"


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
