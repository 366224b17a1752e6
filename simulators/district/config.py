"""Every rate the simulator uses, declared in two frozen dataclasses so benchmarks can vary them.

``DistrictConfig`` shapes the truth (who lives here, how many hard cases); ``NoiseConfig``
shapes what each department writes down (coverage, typos, stale values, formats). Rates are
probabilities per resident or per household, as each field's comment says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["DistrictConfig", "EvolutionConfig", "NoiseConfig"]


@dataclass(frozen=True, slots=True)
class DistrictConfig:
    """The shape of the true population."""

    as_of: date = date(2024, 6, 30)
    """The day the snapshot describes; ages, deaths and moves are relative to it."""
    migrant_household_rate: float = 0.16
    """Share of households whose hukou is elsewhere (流动人口)."""
    foreign_household_rate: float = 0.006
    """Share of households of foreign nationals."""
    minority_household_rate: float = 0.025
    """Share of Chinese households of a minority ethnicity (回族 most often in Nanjing)."""
    twin_rate: float = 0.03
    """Per household with children: the children include a pair of twins."""
    common_name_rate: float = 0.012
    """Per household: an adult gets a very common name (张伟, 王芳) that a later household's
    adult of the same sex shares, born on the same day."""
    shared_phone_rate: float = 0.15
    """Per couple: both spouses give the same mobile number."""
    moved_rate: float = 0.04
    """Per household: moved within the district in the last three years (old and new address)."""
    deceased_rate: float = 0.01
    """Base rate of a death in the last three years; scaled up steeply with age."""
    disability_rate: float = 0.02
    low_income_rate: float = 0.02
    """Per registered household: receives 城市低保."""
    landline_rate: float = 0.3
    """Per household: has a fixed line (025-xxxxxxxx); older households more often."""


@dataclass(frozen=True, slots=True)
class EvolutionConfig:
    """Per-step rates of ``evolve``; one step is ``step_days`` days after ``DistrictConfig.as_of``."""

    step_days: int = 30
    move_rate: float = 0.004
    """Per household per step."""
    leave_rate: float = 0.002
    """Per household per step: the household leaves the district."""
    phone_change_rate: float = 0.006
    """Per resident with a mobile per step."""
    death_rate: float = 0.0008
    """Base rate per resident per step, scaled up with age."""
    correction_rate: float = 0.0005
    """Per resident per step: a name or birth-date correction (更正)."""
    birth_rate: float = 0.001
    """Per household per step: a baby is born into a household with a mother of 22-42."""
    arrival_rate: float = 0.003
    """New migrant households per step, as a share of existing households."""


@dataclass(frozen=True, slots=True)
class NoiseConfig:
    """What each department knows and how it mangles it.

    Prefixes: ``ps_`` public security (公安), ``ss_`` social security (人社), ``ca_`` civil
    affairs (民政), ``hs_`` housing (住建), ``cm_`` community visits (社区入户走访).
    ``*_stale_*`` rates apply only to residents who moved or changed phone: the department
    still holds the old value.
    """

    observed_on: date = date(2024, 6, 30)
    """The day the departments' exports are taken (ages and statuses are as of this day); keep
    it equal to ``DistrictConfig.as_of``, or move it forward with ``evolve`` steps."""

    # public security: most authoritative, little noise
    ps_legacy_id_rate: float = 0.03
    """Rows of people born before 1980 that still carry the 15-digit ID number."""
    ps_name_typo_rate: float = 0.001
    ps_phone_rate: float = 0.3
    """Rows that carry a contact phone at all."""
    ps_stale_address_rate: float = 0.1

    # social security
    ss_adult_coverage: float = 0.88
    ss_child_coverage: float = 0.5
    ss_foreign_coverage: float = 0.6
    ss_id_typo_rate: float = 0.02
    """ID numbers with one digit changed or two neighbours swapped (the check digit then fails)."""
    ss_name_homophone_rate: float = 0.01
    ss_name_typo_rate: float = 0.002
    ss_missing_mobile_rate: float = 0.08
    ss_stale_mobile_rate: float = 0.4
    ss_stale_address_rate: float = 0.4
    ss_dead_still_active_rate: float = 0.3
    """Deceased people whose insurance the department has not yet ended."""

    # civil affairs
    ca_coverage: float = 0.95
    """Entitled residents that appear on the ledger."""
    ca_keeps_deceased_rate: float = 0.3
    """Deceased beneficiaries still on the ledger."""
    ca_traditional_rate: float = 0.1
    """Rows typed in traditional characters (name and address)."""
    ca_fullwidth_id_rate: float = 0.05
    ca_spaced_id_rate: float = 0.05
    ca_lowercase_x_rate: float = 0.5
    """Of ID numbers ending in X, those written with a lower-case x."""
    ca_name_typo_rate: float = 0.005
    ca_name_homophone_rate: float = 0.01
    ca_short_address_rate: float = 0.5
    """Addresses without the city/district/sub-district prefix."""
    ca_stale_address_rate: float = 0.3
    ca_missing_phone_rate: float = 0.1

    # housing
    hs_owner_coverage: float = 0.9
    hs_lease_filing_rate: float = 0.55
    """Tenant households whose lease was filed (租赁备案)."""
    hs_missing_id_rate: float = 0.4
    hs_spaced_name_rate: float = 0.1
    hs_abbreviated_address_rate: float = 0.5
    hs_stale_address_rate: float = 0.5
    hs_missing_phone_rate: float = 0.3

    # community door-to-door visits
    cm_household_coverage: float = 0.75
    cm_missing_field_rate: float = 0.12
    cm_name_homophone_rate: float = 0.03
    cm_name_typo_rate: float = 0.005
    cm_phone_typo_rate: float = 0.01
    cm_age_off_by_one_rate: float = 0.1
    cm_stale_address_rate: float = 0.2
