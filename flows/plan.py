"""The collection planner's adapter: residents from the profile store, forms from ``config/forms``,
the plan as a pre-filled ``.xlsx`` that asks community workers only for the gaps.

The planning itself is pure (``core.planner.plan_collection``); this module reads and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml
from sqlalchemy import Engine, select

from core.planner import CollectionPlan, FormTemplate, plan_collection
from core.privacy import mask_id_number
from core.profile import Profile
from onceonly.settings import PROJECT_ROOT
from store.profile_tables import profiles as profiles_table

FORMS_DIR = PROJECT_ROOT / "config" / "forms"
KNOWN_FILL = "E2EFDA"  # pale green: filled from the hub, do not ask again


class UnknownForm(LookupError):
    pass


def load_form(name: str, forms_dir: Path | None = None) -> FormTemplate:
    path = (forms_dir or FORMS_DIR) / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (forms_dir or FORMS_DIR).glob("*.yaml"))
        raise UnknownForm(f"no form {name!r} (known: {', '.join(known) or 'none'})")
    return FormTemplate.from_dict(name, yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def residents(engine: Engine, *, community: str | None = None,
              profile_ids: Sequence[str] | None = None) -> list[Profile]:
    """Active profiles of a community (社区, by the surviving residential or registered address),
    or the given profile ids."""
    stmt = select(profiles_table.c.doc).where(profiles_table.c.status == "active")
    if community is not None:
        stmt = stmt.where(profiles_table.c.community == community)
    if profile_ids is not None:
        stmt = stmt.where(profiles_table.c.profile_id.in_(list(profile_ids)))
    with engine.connect() as conn:
        return [Profile.model_validate(row.doc) for row in conn.execute(stmt)]


def plan(engine: Engine, form: FormTemplate, *, community: str | None = None,
         profile_ids: Sequence[str] | None = None) -> CollectionPlan:
    return plan_collection(residents(engine, community=community, profile_ids=profile_ids), form)


def shown(field: str, value: str) -> str:
    """What the pre-filled form shows: ID numbers masked (the worker needs to know it is known, not it)."""
    return mask_id_number(value) if field == "id_number" else value


def export_xlsx(collection: CollectionPlan, path: Path) -> Path:
    """Sheet 1: one row per resident, known fields filled (green), gaps empty for the worker.
    Sheet 2: where each known value came from. Sheet 3: the share of re-collection avoided."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    form = collection.form
    book = Workbook()
    sheet = book.active
    sheet.title = "form"
    sheet.append(["profile_id", *(form.label(f) for f in form.fields)])
    sheet.append(["", *form.fields])  # the canonical field under each heading, for the return trip
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    fill = PatternFill("solid", fgColor=KNOWN_FILL)
    for resident in collection.residents:
        sheet.append([resident.profile_id, *(shown(f, resident.known[f].value) if f in resident.known else None
                                             for f in form.fields)])
        for column, name in enumerate(form.fields, start=2):
            if name in resident.known:
                sheet.cell(row=sheet.max_row, column=column).fill = fill
    sources = book.create_sheet("sources")
    sources.append(["profile_id", "field", "source", "record_id", "observed_at"])
    for resident in collection.residents:
        for name, known in resident.known.items():
            sources.append([resident.profile_id, name, known.source, known.record_id,
                            known.observed_at.isoformat()])
    summary = book.create_sheet("summary")
    summary.append(["form", form.title])
    summary.append(["residents", len(collection.residents)])
    summary.append(["fields requested", collection.requested])
    summary.append(["already known", collection.known])
    summary.append(["re-collection avoided", round(collection.share_known, 4)])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
