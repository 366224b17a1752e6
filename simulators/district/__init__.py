"""A synthetic 南京市秦淮区 with ground truth, and its departments' native records.

``generate_district`` produces the true residents; ``render_district`` turns them into what
each department (公安, 人社, 民政, 住建, 社区) holds, with that department's own columns, codes
and noise; ``write_truth`` writes which record is which resident; ``evolve`` moves the district
forward in time; ``door_check_round`` gives the community workers' answers to the hub's door checks
(入户核实). Same seed, same output.
"""

from __future__ import annotations

from simulators.district.config import DistrictConfig, EvolutionConfig, NoiseConfig
from simulators.district.departments import COLUMNS, DEPARTMENTS, RECORD_ID_COLUMNS, Department, NativeRow
from simulators.district.door_checks import door_check_round
from simulators.district.evolution import apply_changes, evolve, step_period
from simulators.district.generator import generate_district, generate_households
from simulators.district.model import Address, Change, Household, Resident
from simulators.district.rendering import RenderedRecord, department_rows, render_district, write_truth

__all__ = [
    "COLUMNS",
    "DEPARTMENTS",
    "RECORD_ID_COLUMNS",
    "Address",
    "Change",
    "Department",
    "DistrictConfig",
    "EvolutionConfig",
    "Household",
    "NativeRow",
    "NoiseConfig",
    "RenderedRecord",
    "Resident",
    "apply_changes",
    "department_rows",
    "door_check_round",
    "evolve",
    "generate_district",
    "generate_households",
    "render_district",
    "step_period",
    "write_truth",
]
