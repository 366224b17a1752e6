"""The sixth department system: the grid-management centre's standard-address file (标准地址库).

网格化服务管理中心 keeps which community (社区) and grid (网格) every building of the district
belongs to, and exports it as a table: one row per building of a compound, one per courtyard
house (a door number on an old-town lane). Like every real register it is incomplete and a little
wrong: buildings finished after the export are missing (every dwelling that ``evolve`` opens later,
and a share ``gap_rate`` of the others), and a share ``wrong_rate`` of rows name a neighbouring
community of the same street (with one of its grids).

Rows are stable: the same buildings give the same 地址编码 and the same row on every export, so a
re-export sends nothing new.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from simulators.district.geography import COMMUNITIES
from simulators.district.model import Address, Resident

__all__ = ["COLUMNS", "RECORD_ID_COLUMN", "standard_address_rows", "write_standard_addresses"]

RECORD_ID_COLUMN: Final = "地址编码"
COLUMNS: Final = ("地址编码", "街道", "社区", "网格", "路名", "门牌号", "小区名称", "楼栋", "标准地址")


def _fraction(seed: int, salt: str, key: str) -> float:
    digest = hashlib.blake2b(f"{seed}\x1f{salt}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _building_key(address: Address) -> str:
    return f"{address.road}#{address.number}#{address.compound or ''}#{address.building or ''}"


def standard_address_rows(residents: Iterable[Resident], seed: int, *, gap_rate: float = 0.04,
                          wrong_rate: float = 0.004) -> Iterator[dict[str, str]]:
    """The standard-address file of the buildings the residents live (or lived) in, sorted by code."""
    buildings: dict[str, Address] = {}
    for resident in residents:
        for address in (resident.address, resident.previous_address):
            if address is None or not address.dwelling_id.startswith("D0"):
                continue  # a development opened after the export (evolution steps): not in the file yet
            buildings.setdefault(_building_key(address), address)
    by_street: dict[str, list[str]] = {}
    for spec in COMMUNITIES:
        by_street.setdefault(spec.street.name, []).append(spec.name)
    grids = {spec.name: spec.grids for spec in COMMUNITIES}
    rows = []
    for key, address in buildings.items():
        if _fraction(seed, "gap", key) < gap_rate:
            continue
        community, grid = address.community, address.grid
        if _fraction(seed, "wrong", key) < wrong_rate:
            neighbours = [c for c in by_street[address.street] if c != community]
            if neighbours:
                community = neighbours[int(_fraction(seed, "which", key) * len(neighbours))]
                grid = f"第{1 + int(_fraction(seed, 'grid', key) * grids[community])}网格"
        place = f"{address.road}{address.number}号"
        if address.compound is not None:
            place += f"{address.compound}{address.building}幢"
        code = hashlib.blake2b(key.encode(), digest_size=5).hexdigest().upper()
        rows.append({
            "地址编码": f"{address.community_code}-{code}",
            "街道": address.street,
            "社区": community,
            "网格": grid,
            "路名": address.road,
            "门牌号": f"{address.number}号",
            "小区名称": address.compound or "",
            "楼栋": f"{address.building}幢" if address.building is not None else "",
            "标准地址": f"江苏省南京市秦淮区{place}",
        })
    yield from sorted(rows, key=lambda r: r["地址编码"])


def write_standard_addresses(path: Path, rows: Iterable[dict[str, str]]) -> int:
    """The file as the grid centre exports it (UTF-8 with a BOM, Excel's CSV); the rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
