"""The map of 南京市秦淮区 (division code 320104): sub-districts, communities, grids, roads, dwellings.

The twelve sub-districts (街道) are the real ones since 白下区 merged into 秦淮区 in 2013. Road
names are real roads of each area; community (社区) and compound (小区) names are real where
known and otherwise modelled on the area's place names, so they read true to a Nanjing ear
without claiming to be an official list. The 9-digit sub-district codes number the streets in
this table's order and are illustrative.

Dwellings are handed out by ``DwellingAllocator``: it fills compounds building by building and
opens new compounds when a community grows, so the map scales from a thousand residents to a
million while holding only a few counters per community.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Final

from simulators.district.model import Address

__all__ = ["COMMUNITIES", "STREETS", "CommunitySpec", "DwellingAllocator", "StreetSpec"]


@dataclass(frozen=True, slots=True)
class StreetSpec:
    name: str
    code: str
    roads: tuple[str, ...]
    old_town: bool
    """Old-town lanes: a share of households live in courtyard houses with only a door number."""


@dataclass(frozen=True, slots=True)
class CommunitySpec:
    street: StreetSpec
    name: str
    code: str
    compounds: tuple[str, ...]
    grids: int


_STREET_TABLE: Final[tuple[tuple[str, tuple[str, ...], bool, tuple[tuple[str, tuple[str, ...]], ...]], ...]] = (
    ("秦虹街道", ("秦虹路", "石杨路", "扇骨里", "武定门路", "中和桥路"), False, (
        ("秦虹社区", ("秦虹小区", "秦虹南苑")),
        ("扇骨里社区", ("扇骨里小区", "武定新村")),
        ("石杨路社区", ("石杨路小区", "凤凰和美")),
        ("集合村社区", ("集合村小区",)),
    )),
    ("夫子庙街道", ("贡院街", "平江府路", "钞库街", "大石坝街", "琵琶街", "瞻园路", "长乐路"), True, (
        ("钞库街社区", ("钞库街小区",)),
        ("大石坝街社区", ("大石坝街小区",)),
        ("瞻园社区", ("瞻园路小区", "贡院新村")),
        ("琵琶街社区", ("琵琶街小区",)),
        ("长乐路社区", ("长乐新村", "信府河小区")),
    )),
    ("双塘街道", ("集庆路", "鸣羊街", "剪子巷", "船板巷", "饮马巷", "张家衙"), True, (
        ("双塘园社区", ("双塘园小区", "双塘新村")),
        ("鸣羊街社区", ("鸣羊街小区",)),
        ("剪子巷社区", ("剪子巷小区", "饮马巷小区")),
        ("船板巷社区", ("船板巷小区",)),
    )),
    ("中华门街道", ("中华路", "雨花路", "长干街", "小心桥东街", "钓鱼台", "养回红村"), True, (
        ("钓鱼台社区", ("钓鱼台小区",)),
        ("长干里社区", ("长干里小区", "雨花新村")),
        ("小心桥社区", ("小心桥东街小区",)),
        ("养回红村社区", ("养回红村小区",)),
    )),
    ("洪武路街道", ("洪武路", "中山南路", "游府西街", "户部街", "太平南路", "白下路", "常府街"), False, (
        ("游府西街社区", ("游府新村",)),
        ("户部街社区", ("户部街小区", "张府园小区")),
        ("太平南路社区", ("太平南路小区",)),
        ("常府街社区", ("常府街小区", "白下路小区")),
    )),
    ("五老村街道", ("长白街", "火瓦巷", "利济巷", "文昌巷", "中山东路", "大中桥"), False, (
        ("五老村社区", ("五老村小区",)),
        ("火瓦巷社区", ("火瓦巷小区",)),
        ("利济巷社区", ("利济巷小区", "文昌新村")),
        ("大中桥社区", ("大中桥小区",)),
    )),
    ("大光路街道", ("大光路", "解放路", "海福巷", "马道街", "武定门北路", "晨光路"), False, (
        ("大光路社区", ("大光路小区", "海福巷小区")),
        ("解放路社区", ("解放路小区",)),
        ("马道街社区", ("马道街小区",)),
        ("晨光社区", ("晨光新村",)),
    )),
    ("瑞金路街道", ("瑞金路", "解放南路", "龙蟠中路", "御道街", "标营", "中山门大街"), False, (
        ("瑞金北村社区", ("瑞金北村",)),
        ("瑞金新村社区", ("瑞金新村",)),
        ("明故宫苑社区", ("明故宫苑", "御河新村")),
        ("西华东村社区", ("西华东村",)),
        ("标营社区", ("标营小区",)),
    )),
    ("月牙湖街道", ("苜蓿园大街", "童卫路", "中山门外大街", "卫桥", "月牙湖路"), False, (
        ("苜蓿园社区", ("苜蓿园小区",)),
        ("月牙湖社区", ("月牙湖花园",)),
        ("梅花山庄社区", ("梅花山庄",)),
        ("富丽山庄社区", ("富丽山庄", "明湖山庄")),
        ("金泰社区", ("金泰家园", "海月花园")),
        ("富康社区", ("富康新村", "大邦花园")),
    )),
    ("光华路街道", ("光华路", "光华东街", "石门坎", "中和村", "后标营路"), False, (
        ("石门坎社区", ("石门坎小区",)),
        ("光华园社区", ("光华园", "光华东街小区")),
        ("中和村社区", ("中和村小区",)),
        ("后标营社区", ("后标营小区",)),
    )),
    ("朝天宫街道", ("莫愁路", "升州路", "王府大街", "仓巷", "石鼓路", "七家湾", "丰富路"), True, (
        ("仓巷社区", ("仓巷小区",)),
        ("七家湾社区", ("七家湾小区",)),
        ("王府园社区", ("王府园小区",)),
        ("石鼓路社区", ("石鼓路小区", "莫愁新寓")),
    )),
    ("红花街道", ("大明路", "卡子门大街", "宏运大道", "永乐路", "机场路"), False, (
        ("红花社区", ("红花新村",)),
        ("大明路社区", ("大明路小区", "宏运家园")),
        ("卡子门社区", ("卡子门小区",)),
        ("永乐社区", ("永乐新村", "机场路小区")),
    )),
)  # fmt: skip


def _build() -> tuple[tuple[StreetSpec, ...], tuple[CommunitySpec, ...]]:
    streets = []
    communities = []
    for street_index, (name, roads, old_town, community_rows) in enumerate(_STREET_TABLE, start=1):
        street = StreetSpec(name=name, code=f"320104{street_index:03d}", roads=roads, old_town=old_town)
        streets.append(street)
        for community_index, (community, compounds) in enumerate(community_rows, start=1):
            communities.append(
                CommunitySpec(
                    street=street,
                    name=community,
                    code=f"{street.code}{community_index:03d}",
                    compounds=compounds,
                    grids=4 + (street_index + community_index) % 5,
                )
            )
    return tuple(streets), tuple(communities)


STREETS, COMMUNITIES = _build()

_COMPOUND_SUFFIXES: Final = ("新村", "小区", "东苑", "西苑", "南苑", "北苑", "花园", "家园", "新寓", "二村", "三村")
# New developments, where people who move during ``evolve`` find a flat: never an old name.
_NEW_BUILD_SUFFIXES: Final = ("雅苑", "嘉园", "华庭", "名邸", "御园", "公馆", "新城", "锦苑")
_CHINESE_ORDINALS: Final = "一二三四五六七八九十"
_BUILDING_FLOORS: Final = (6, 6, 6, 7, 5, 11, 18)


@dataclass(slots=True)
class _Compound:
    name: str | None
    """``None`` for a lane of courtyard houses (门牌 only)."""
    road: str
    number: int
    grid: int
    floors: int
    units: int
    buildings: int = 1
    stride: int = 1
    offset: int = 0
    next_flat: int = 0
    """How many flats of the permutation have been handed out (or skipped as vacant)."""

    @property
    def capacity(self) -> int:
        return self.buildings * self.floors * self.units * 2


@dataclass(slots=True)
class _CommunityState:
    spec: CommunitySpec
    compounds: list[_Compound] = field(default_factory=list)
    spare_names: list[str] = field(default_factory=list)


def _coprime_stride(rng: random.Random, capacity: int) -> int:
    """A step that visits every flat once before repeating (coprime with the capacity)."""
    while True:
        stride = rng.randrange(capacity // 3 + 1, capacity) if capacity > 3 else 1
        if math.gcd(stride, capacity) == 1:
            return stride


class DwellingAllocator:
    """Hands out free dwellings; each one is given once (the same flat is never double-booked).

    A compound of ``floors`` x ``units`` x 2 flats per building grows building by building up to
    ``max_buildings``; then the community opens another compound on one of its street's roads.
    With ``phase`` set (an evolution step), only new developments named "…嘉园三期" are opened,
    so that people moving later never land in a flat the generator already gave away.
    """

    __slots__ = (
        "_communities", "_counter", "_cum_weights", "_door_numbers", "_max_buildings", "_phase", "_rng",
        "_used_names",
    )  # fmt: skip

    def __init__(self, rng: random.Random, max_buildings: int = 40, phase: int | None = None) -> None:
        self._rng = rng
        self._max_buildings = max_buildings
        self._phase = phase
        self._door_numbers: dict[str, int] = {}
        self._communities = [_CommunityState(spec=spec) for spec in COMMUNITIES]
        total = 0.0
        weights = []
        for _ in self._communities:
            total += rng.uniform(0.6, 1.4)
            weights.append(total)
        self._cum_weights = tuple(weights)
        self._used_names: set[str] = {name for spec in COMMUNITIES for name in spec.compounds}
        self._counter = 0
        if phase is None:
            for state in self._communities:
                state.spare_names = list(state.spec.compounds)

    def allocate(self, community_index: int | None = None) -> Address:
        """A free dwelling, in a community drawn by size unless ``community_index`` is given."""
        rng = self._rng
        if community_index is None:
            state = self._communities[bisect_right(self._cum_weights, rng.random() * self._cum_weights[-1])]
        else:
            state = self._communities[community_index % len(self._communities)]
        spec = state.spec
        if self._phase is None and spec.street.old_town and rng.random() < 0.15:
            return self._courtyard(state)
        compound = self._compound_with_room(state)
        flats_per_building = compound.floors * compound.units * 2
        # Flats are visited in a scrambled order (an affine permutation of the compound), so a
        # small district is spread over many buildings; some stay empty.
        if rng.random() < 0.12 and compound.next_flat + 1 < compound.capacity:
            compound.next_flat += 1
        index = (compound.stride * compound.next_flat + compound.offset) % compound.capacity
        compound.next_flat += 1
        building, within = divmod(index, flats_per_building)
        unit, within_unit = divmod(within, compound.floors * 2)
        floor, door = divmod(within_unit, 2)
        room = f"{floor + 1}{door + 1:02d}"
        return self._address(state, compound, building + 1, unit + 1, room)

    def community_count(self) -> int:
        return len(self._communities)

    def _compound_with_room(self, state: _CommunityState) -> _Compound:
        open_compounds = [c for c in state.compounds if c.name is not None and c.next_flat < c.capacity]
        if not open_compounds or (len(open_compounds) < 3 and self._rng.random() < 0.002):
            open_compounds.append(self._open_compound(state))
        return self._rng.choice(open_compounds)

    def _open_compound(self, state: _CommunityState) -> _Compound:
        rng = self._rng
        spec = state.spec
        road = rng.choice(spec.street.roads)
        if state.spare_names:
            name = state.spare_names.pop(0)
            # A compound named after a road stands on that road.
            road = next((r for r in spec.street.roads if name.startswith(r.removesuffix("路"))), road)
        elif self._phase is not None:
            stem = road.removesuffix("大街").removesuffix("路").removesuffix("街").removesuffix("巷")
            phase = _CHINESE_ORDINALS[(self._phase - 1) % 10] + "期"
            if self._phase > 10:
                phase = f"{self._phase}期"
            name = stem + rng.choice(_NEW_BUILD_SUFFIXES) + phase
            while name in self._used_names:
                name = stem + rng.choice(_NEW_BUILD_SUFFIXES) + rng.choice("东西南北") + "区" + phase
            self._used_names.add(name)
        else:
            stem = road.removesuffix("大街").removesuffix("路").removesuffix("街").removesuffix("巷")
            name = stem + rng.choice(_COMPOUND_SUFFIXES)
            while name in self._used_names:
                name = stem + rng.choice(_COMPOUND_SUFFIXES) + str(rng.randint(2, 9)) + "区"
            self._used_names.add(name)
        compound = _Compound(
            name=name,
            road=road,
            number=self._next_number(road),
            grid=rng.randint(1, spec.grids),
            floors=rng.choice(_BUILDING_FLOORS),
            units=rng.choice((1, 2, 2, 3, 3, 4)),
            buildings=rng.randint(self._max_buildings // 4, self._max_buildings),
        )
        compound.offset = rng.randrange(compound.capacity)
        compound.stride = _coprime_stride(rng, compound.capacity)
        state.compounds.append(compound)
        return compound

    def _courtyard(self, state: _CommunityState) -> Address:
        road = self._rng.choice(state.spec.street.roads)
        lane = _Compound(
            name=None, road=road, number=self._next_number(road), grid=self._rng.randint(1, state.spec.grids),
            floors=1, units=1,
        )  # fmt: skip
        return self._address(state, lane, None, None, None)

    def _next_number(self, road: str) -> int:
        # Door numbers on one road go up in steps of 1-6, so neighbours look like neighbours; new
        # developments get numbers from 300 up, past the old ones.
        start = self._rng.randint(1, 40) if self._phase is None else 300 + 40 * self._phase
        number = self._door_numbers.get(road, start) + self._rng.randint(1, 6)
        self._door_numbers[road] = number
        return number

    @staticmethod
    def _grid(spec: CommunitySpec, place: _Compound, building: int | None) -> int:
        # A large compound spans grids: every four buildings the next grid of the community (a
        # grid, 网格, is 300–500 households, a compound can hold thousands).
        if building is None:
            return place.grid
        return 1 + (place.grid - 1 + (building - 1) // 4) % spec.grids

    def _address(
        self, state: _CommunityState, place: _Compound, building: int | None, unit: int | None, room: str | None
    ) -> Address:
        self._counter += 1
        spec = state.spec
        prefix = "D" if self._phase is None else f"D{self._phase}-"
        return Address(
            dwelling_id=f"{prefix}{self._counter:07d}",
            street=spec.street.name,
            street_code=spec.street.code,
            community=spec.name,
            community_code=spec.code,
            grid=f"第{self._grid(spec, place, building)}网格",
            road=place.road,
            number=place.number,
            compound=place.name,
            building=building,
            unit=unit,
            room=room,
        )
