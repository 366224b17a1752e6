"""Renderers from true residents to each department's native rows.

Every renderer has the ``Renderer`` shape: ``(resident, rng, noise, household=()) -> row | None``,
``None`` when that department does not know the person. Each department has its own column
names (``COLUMNS``), its own code values, its own noise and its own stable record id column
(``RECORD_ID_COLUMNS``), which never contains an ID number.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from simulators.district.departments import civil_affairs, community, housing, public_security, social_security
from simulators.district.departments._common import Department, NativeRow, Renderer
from simulators.district.departments.civil_affairs import render_civil_affairs
from simulators.district.departments.community import render_community
from simulators.district.departments.housing import render_housing
from simulators.district.departments.public_security import render_public_security
from simulators.district.departments.social_security import render_social_security

__all__ = [
    "COLUMNS",
    "DEPARTMENTS",
    "RECORD_ID_COLUMNS",
    "RENDERERS",
    "Department",
    "NativeRow",
    "Renderer",
    "render_civil_affairs",
    "render_community",
    "render_housing",
    "render_public_security",
    "render_social_security",
]

DEPARTMENTS: Final[tuple[Department, ...]] = (
    "public_security", "social_security", "civil_affairs", "housing", "community",
)  # fmt: skip
RENDERERS: Final[MappingProxyType[Department, Renderer]] = MappingProxyType(
    {
        "public_security": render_public_security,
        "social_security": render_social_security,
        "civil_affairs": render_civil_affairs,
        "housing": render_housing,
        "community": render_community,
    }
)
RECORD_ID_COLUMNS: Final[MappingProxyType[Department, str]] = MappingProxyType(
    {
        "public_security": public_security.RECORD_ID_COLUMN,
        "social_security": social_security.RECORD_ID_COLUMN,
        "civil_affairs": civil_affairs.RECORD_ID_COLUMN,
        "housing": housing.RECORD_ID_COLUMN,
        "community": community.RECORD_ID_COLUMN,
    }
)
COLUMNS: Final[MappingProxyType[Department, tuple[str, ...]]] = MappingProxyType(
    {
        "public_security": public_security.COLUMNS,
        "social_security": social_security.COLUMNS,
        "civil_affairs": civil_affairs.COLUMNS,
        "housing": housing.COLUMNS,
        "community": community.COLUMNS,
    }
)
