"""A round of door checks (入户核实): the community workers' answers to the hub's 住址有冲突 flag.

The hub flags a profile whose records disagree on where the resident lives; the worker goes to the
door and writes what she finds, as a community visit with 核实方式 入户核实 (see
``departments.community.render_door_check``: nobody at home as often as a visit round misses a
household, the usual noise of a visit). The round starts the day after the departments' exports
(``NoiseConfig.observed_on``) and lasts one evolution step (``EvolutionConfig.step_days``); each
household is visited on one day of it.

Example::

    residents = list(generate_district(5_000, seed=1))
    answers = list(door_check_round(residents, {"R000042", "R001234"}, seed=1))
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Iterator
from datetime import date, timedelta

from simulators.district.config import EvolutionConfig, NoiseConfig
from simulators.district.departments import DEPARTMENTS
from simulators.district.departments._common import independent_fraction
from simulators.district.departments.community import render_door_check
from simulators.district.model import Resident
from simulators.district.rendering import RenderedRecord, _stream_seed

__all__ = ["door_check_day", "door_check_round"]


def door_check_day(resident: Resident, starts_on: date, days: int, round_number: int = 1) -> date:
    """The day of the round on which the worker knocks at ``resident``'s household."""
    return starts_on + timedelta(days=int(independent_fraction(f"door-day:{round_number}:{resident.household_id}") * days))


def door_check_round(
    residents: Iterable[Resident], resident_ids: Collection[str], seed: int, *, noise: NoiseConfig | None = None,
    round_number: int = 1, starts_on: date | None = None, days: int | None = None,
) -> Iterator[RenderedRecord]:
    """The answers (community visit rows, with the resident each is about) of one round of door
    checks on the residents ``resident_ids``; those not answered give no row. Same seed and round,
    same answers; each round has its own random streams and its own 走访编号."""
    noise = noise or NoiseConfig()
    starts_on = starts_on or noise.observed_on + timedelta(days=1)
    days = EvolutionConfig().step_days if days is None else days
    households: dict[str, list[Resident]] = {}
    for resident in residents:
        households.setdefault(resident.household_id, []).append(resident)
    rng = random.Random()
    for members in households.values():
        household = tuple(members)
        for resident in household:
            if resident.resident_id not in resident_ids:
                continue
            # a stream apart from every department's (indices past DEPARTMENTS), one per round
            rng.seed(_stream_seed(seed, len(DEPARTMENTS) + round_number, resident.number))
            row = render_door_check(resident, rng, noise, household,
                                    visited_on=door_check_day(resident, starts_on, days, round_number),
                                    round_number=round_number, seed=seed)
            if row is not None:
                yield RenderedRecord("community", row, resident.resident_id)
