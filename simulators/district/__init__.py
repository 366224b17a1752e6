"""A synthetic 南京市秦淮区 with ground truth, and its departments' native records.

``generate_district`` produces the true residents; ``render_district`` turns them into what
each department (公安, 人社, 民政, 住建, 社区) holds, with that department's own columns, codes
and noise; ``write_truth`` writes which record is which resident. Same seed, same output.
"""

from __future__ import annotations

from simulators.district.config import DistrictConfig, EvolutionConfig, NoiseConfig
from simulators.district.generator import generate_district, generate_households
from simulators.district.model import Address, Change, Household, Resident

__all__ = [
    "Address",
    "Change",
    "DistrictConfig",
    "EvolutionConfig",
    "Household",
    "NoiseConfig",
    "Resident",
    "generate_district",
    "generate_households",
]
