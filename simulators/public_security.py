"""The public security (公安) household register as a real SQL database, for demos and tests.

The police station's system holds one table, ``户籍人口``, with the Chinese column names the
district renderer writes (``simulators.district``), keyed by 人员编号 and stamped with
``updated_at`` on every write. SQLite by default; any SQLAlchemy URL works (tests use Postgres
too). The functions below change it the way the station does over time, so a connector can be
tested against updates, deaths, physical deletions, new rows and rows no one should accept.

    python -m simulators.public_security --residents 10000 --seed 1   # into $ONCEONLY_DATA_DIR/departments/
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    select,
    update,
)

from simulators.district import COLUMNS, department_rows, generate_district

TABLE = "户籍人口"
KEY = "人员编号"
WATERMARK = "updated_at"
_BATCH = 1000

metadata = MetaData()
household_register = Table(
    TABLE,
    metadata,
    Column(KEY, String(32), primary_key=True),
    *(Column(name, Text, nullable=True) for name in COLUMNS["public_security"] if name not in (KEY, WATERMARK)),
    Column(WATERMARK, DateTime, nullable=True),
)
# the connector reads in (updated_at, 人员编号) order: the station's system would index it too
Index("ix_huji_updated_at", household_register.c[WATERMARK], household_register.c[KEY])


def default_url(data_dir: Path) -> str:
    """Where the demo keeps the station's database: the mapping file's default URL."""
    return f"sqlite:///{data_dir / 'departments' / 'public_security.db'}"


def engine_for(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url)


def create_department(url: str, n_residents: int, seed: int = 1, *, n_rows: int | None = None) -> Engine:
    """Create ``户籍人口`` (dropped first) and fill it from a simulated district.

    ``n_rows`` cuts the table to exactly that many rows (a test's size), else every row the
    renderer gives for ``n_residents`` residents.
    """
    engine = engine_for(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    rows = department_rows(generate_district(n_residents, seed=seed), seed, "public_security")
    insert_rows(engine, islice(rows, n_rows) if n_rows is not None else rows)
    return engine


def insert_rows(engine: Engine, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert native rows (renderer spelling: ``updated_at`` as text or datetime), in batches."""
    count = 0
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for row in rows:
            batch.append(_stored(row))
            if len(batch) >= _BATCH:
                conn.execute(household_register.insert(), batch)
                count, batch = count + len(batch), []
        if batch:
            conn.execute(household_register.insert(), batch)
            count += len(batch)
    return count


def apply_snapshot(engine: Engine, rows: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """Bring the table to a newer rendering (e.g. after ``simulators.district.evolve``): new
    people are inserted, changed rows rewritten with their new stamp. Rows missing from the
    snapshot stay: the station deregisters (注销), it does not delete. Returns (inserted, updated)."""
    inserted = updated = 0
    written = next_stamp(engine)  # the write time: a real system stamps rows when it writes them
    rows = iter(rows)
    while batch := [_stored(r) for r in islice(rows, _BATCH)]:
        with engine.begin() as conn:
            ids = [r[KEY] for r in batch]
            current = {r._mapping[KEY]: dict(r._mapping) for r in conn.execute(
                select(household_register).where(household_register.c[KEY].in_(ids)))}
            for row in batch:
                before = current.get(row[KEY])
                row[WATERMARK] = max(row[WATERMARK], written) if row.get(WATERMARK) else written
                if before is None:
                    conn.execute(household_register.insert(), [row])
                    inserted += 1
                elif _facts(before) != _facts(row):
                    conn.execute(update(household_register).where(household_register.c[KEY] == row[KEY]).values(row))
                    updated += 1
    return inserted, updated


def person_ids(engine: Engine, limit: int | None = None) -> list[str]:
    with engine.connect() as conn:
        stmt = select(household_register.c[KEY]).order_by(household_register.c[KEY]).limit(limit)
        return [r[0] for r in conn.execute(stmt)]


def update_contact(engine: Engine, person_id: str, *, phone: str | None = None, address: str | None = None) -> None:
    """A resident reports a new phone or current address (现住址); the row gets a new stamp."""
    values: dict[str, Any] = {}
    if phone is not None:
        values["联系电话"] = phone
    if address is not None:
        values["现住址"] = address
    _rewrite(engine, person_id, values)


def register_death(engine: Engine, person_id: str, on: date) -> None:
    """死亡注销: the person stays in the table; status and date record the death (a fact, not a deletion)."""
    _rewrite(engine, person_id, {"人员状态": "死亡注销", "注销日期": on.isoformat()})


def delete_person(engine: Engine, person_id: str) -> None:
    """A row physically deleted (e.g. a duplicate registration cleaned up): its record ends."""
    with engine.begin() as conn:
        conn.execute(delete(household_register).where(household_register.c[KEY] == person_id))


def insert_bad_rows(engine: Engine, template: Mapping[str, Any] | None = None) -> int:
    """Rows no hub should take in, each broken one way; returns how many were inserted.

    A copy of a real row with: a future birth date, an unknown sex code, an unknown ethnicity,
    a 2 MB name, a spreadsheet formula, an empty 人员编号 (a primary key cannot be missing), and,
    on SQLite only (which stores bytes in a text column), a name that is not UTF-8 at all.
    """
    base = dict(template or _first_row(engine))
    stamp = next_stamp(engine)
    broken: list[dict[str, Any]] = [
        {"出生日期": (date.today() + timedelta(days=400)).isoformat()},
        {"性别": "妖"},
        {"民族": "火星族"},
        {"姓名": "张" * (2 * 1024 * 1024 // 3 + 1)},
        {"姓名": '=HYPERLINK("http://example.invalid","点击")'},
        {KEY: ""},
    ]
    if engine.dialect.name == "sqlite":
        broken.append({"姓名": b"\xff\xfe\xc3(bad"})
    rows = [{**base, KEY: f"GXBAD{i:05d}", WATERMARK: stamp, **change} for i, change in enumerate(broken)]
    with engine.begin() as conn:
        conn.execute(household_register.insert(), rows)
    return len(rows)


def next_stamp(engine: Engine) -> datetime:
    """A write time after every stamp in the table (the simulated district's clock runs ahead of
    the real one, so "now" alone could land behind a connector's cursor)."""
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(household_register.c[WATERMARK]))).scalar()
    now = datetime.now().replace(microsecond=0)
    if isinstance(latest, str):  # SQLite hands back text for an aggregate
        latest = datetime.fromisoformat(latest)
    return max(now, latest + timedelta(seconds=1)) if latest is not None else now


def _rewrite(engine: Engine, person_id: str, values: dict[str, Any]) -> None:
    stamp = next_stamp(engine)
    with engine.begin() as conn:
        done = conn.execute(update(household_register).where(household_register.c[KEY] == person_id)
                            .values(**values, **{WATERMARK: stamp}))
        if not done.rowcount:
            raise KeyError(f"no row {person_id!r} in {TABLE}")


def _first_row(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(household_register).order_by(household_register.c[KEY]).limit(1)).one()
    return dict(row._mapping)


def _facts(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != WATERMARK}


def _stored(row: Mapping[str, Any]) -> dict[str, Any]:
    stored = dict(row)
    if isinstance(stored.get(WATERMARK), str):
        stored[WATERMARK] = datetime.fromisoformat(stored[WATERMARK])
    return stored


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a convenience for demos
    parser = argparse.ArgumentParser(description="Create the simulated public security database.")
    data_dir = Path(os.environ.get("ONCEONLY_DATA_DIR", "var"))
    parser.add_argument("--url", default=default_url(data_dir), help="SQLAlchemy URL (default: %(default)s)")
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    engine = create_department(args.url, args.residents, args.seed)
    print(f"{TABLE}: {len(person_ids(engine))} rows in {args.url}")


if __name__ == "__main__":  # pragma: no cover
    main()
