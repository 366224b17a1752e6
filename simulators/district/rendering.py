"""A whole district rendered into department rows, and the truth file that says who is who.

Each (department, resident) pair gets its own random stream, seeded from ``seed``, the
department and the resident's number: re-rendering an unchanged resident gives the identical
row, whatever else changed in the district, so incremental tests see only real changes.

Example::

    residents = list(generate_district(5_000, seed=1))
    records = list(render_district(residents, seed=1))
    write_truth(records, tmp_path / "truth.csv")
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path
from typing import NamedTuple

from simulators.district.config import NoiseConfig
from simulators.district.departments import DEPARTMENTS, RECORD_ID_COLUMNS, RENDERERS, Department, NativeRow
from simulators.district.model import Resident

__all__ = ["RenderedRecord", "department_rows", "render_district", "write_truth"]

TRUTH_HEADER = ("source", "record_id", "resident_id")


class RenderedRecord(NamedTuple):
    """One department row with the resident it really belongs to (kept apart from the row)."""

    source: Department
    row: NativeRow
    resident_id: str

    @property
    def record_id(self) -> str:
        return str(self.row[RECORD_ID_COLUMNS[self.source]])


def _stream_seed(seed: int, department_index: int, resident_number: int) -> int:
    return (seed * 1_000_003 + department_index) * 100_000_007 + resident_number


def render_district(
    residents: Iterable[Resident],
    seed: int,
    noise: NoiseConfig | None = None,
    departments: Iterable[Department] = DEPARTMENTS,
) -> Iterator[RenderedRecord]:
    """``(department, native_row, true_resident_id)`` for every row any department holds.

    Residents of one household should come together (as ``generate_district`` yields them) so
    that the community record can name the head; the rest does not depend on order.
    """
    noise = noise or NoiseConfig()
    wanted = tuple(departments)
    indices = {d: DEPARTMENTS.index(d) for d in wanted}
    row_numbers = dict.fromkeys(wanted, 0)
    rng = random.Random()
    for _, members in groupby(residents, key=lambda r: r.household_id):
        household = tuple(members)
        for resident in household:
            for department in wanted:
                rng.seed(_stream_seed(seed, indices[department], resident.number))
                row = RENDERERS[department](resident, rng, noise, household)
                if row is None:
                    continue
                row_numbers[department] += 1
                if "序号" in row:
                    row["序号"] = str(row_numbers[department])
                yield RenderedRecord(department, row, resident.resident_id)


def department_rows(
    residents: Iterable[Resident], seed: int, department: Department, noise: NoiseConfig | None = None
) -> Iterator[NativeRow]:
    """Only one department's native rows (what its connector will read), without the truth."""
    for record in render_district(residents, seed, noise, (department,)):
        yield record.row


def write_truth(records: Iterable[RenderedRecord | tuple[Department, NativeRow, str]], path: Path) -> int:
    """Write ``source,record_id,resident_id`` (UTF-8 CSV) and return the number of rows written."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TRUTH_HEADER)
        for source, row, resident_id in records:
            writer.writerow((source, row[RECORD_ID_COLUMNS[source]], resident_id))
            count += 1
    return count
