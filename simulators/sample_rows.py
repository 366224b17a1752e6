"""The first N native rows of one department, from a district just big enough to hold them.

Departments know different shares of the district (civil affairs about 1 in 20 residents,
housing 1 in 3, community workers 3 in 4), so tests that want "3,000 housing rows" ask here
instead of guessing a district size. Cached per process: building a district takes seconds.
"""

from __future__ import annotations

import functools

from simulators.district import Department, department_rows, generate_district

__all__ = ["sample_rows"]

Row = dict[str, str]
# Roughly how many residents each department holds a row for (measured on seed 1).
_SHARE: dict[str, float] = {"civil_affairs": 0.05, "housing": 0.31, "community": 0.73}


@functools.cache
def _rows(department: Department, n_residents: int, seed: int) -> tuple[Row, ...]:
    residents = list(generate_district(n_residents, seed=seed))
    return tuple({k: "" if v is None else str(v) for k, v in row.items()}
                 for row in department_rows(residents, seed, department))


def sample_rows(department: Department, n_rows: int, seed: int = 1) -> list[Row]:
    """``n_rows`` rows of ``department`` (fresh copies, safe to edit), same seed same rows.

    >>> len(sample_rows("housing", 10))
    10
    """
    n_residents = max(200, int(n_rows / _SHARE.get(department, 0.5) * 1.15))
    while True:
        rows = _rows(department, n_residents, seed)
        if len(rows) >= n_rows:
            return [dict(r) for r in rows[:n_rows]]
        n_residents *= 2
