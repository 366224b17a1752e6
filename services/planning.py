"""The collection planner (采集计划, 一表通), the use cases: the forms a plan may ask for, whom a
principal may plan, a plan of a community, a grid (网格) or a list of residents (known fields and
gaps, with the share of re-collection avoided) as the principal may see it, that plan as a
pre-filled workbook, and the filled workbook back through the ingest loop.

Community workers plan their own communities; stewards any. Every plan is an audited read, made
here whichever entry point asked: the API and the console (:meth:`PlanningService.plan`), or a
steward at the terminal (:meth:`PlanningService.operator_plan`, ``onceonly plan``), whose refusals
are audited too. The planning itself is pure (``core.planner``); the store's reads are
``store.planner_reads`` and the workbook is ``services.plan_workbook``.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import yaml
from sqlalchemy import Engine

from connectors.pull import RunCounts
from connectors.rows import CursorLookup, NativeRow, Page, Reader, UnreadableRow
from connectors.spec import ConnectorSpec
from core.access import AccessDenied, Grant, Principal, may_see_community, scope_of
from core.access.catalogue import catalogue
from core.objections import Objection
from core.planner import (
    CANONICAL_FIELDS,
    CollectionPlan,
    FormTemplate,
    InvalidTarget,
    PlanTarget,
    PlanView,
    UnknownField,
    as_cell,
    collected_answers,
    plan_collection,
    plan_view,
    require_planner,
    visit_row,
)
from core.privacy import redact, redact_purpose
from core.profile import Profile
from services.ingest import BatchNotTaken, Cell
from services.plan_workbook import UnreadableWorkbook, read_workbook, workbook_bytes
from services.ports import Auditor
from store.planner_reads import contested, known_communities, locate, named_grids, placed_residents, residents

__all__ = [
    "ANSWER_SOURCE",
    "ATTRIBUTES",
    "FORMS_DIR",
    "OPERATOR_PLAN_PURPOSE",
    "PLAN_PURPOSE",
    "AnswerIntake",
    "AnswersNotTaken",
    "NoResident",
    "PlanRefused",
    "PlanningService",
    "UnknownForm",
    "form_names",
    "load_form",
    "load_forms",
    "may_plan",
]

log = logging.getLogger(__name__)

FORMS_DIR = Path(__file__).resolve().parent.parent / "config" / "forms"
_FORM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ANSWER_SOURCE = "community"  # what workers collect comes back through the community source (社区 入户走访)
PLAN_PURPOSE = "入户采集计划"
ANSWERS_PURPOSE = "入户采集回流"
OPERATOR_PLAN_PURPOSE = "采集计划（命令行）"  # a collection plan made on the command line
# Attributes a console-built form may tick besides the canonical fields (those of the shipped forms join them).
ATTRIBUTES = ("attributes.living_alone", "attributes.person_category", "attributes.assistance",
              "attributes.disability", "attributes.grid")


class UnknownForm(LookupError):
    pass


class PlanRefused(ValueError):
    """The request cannot make a plan (a form and fields both, an unknown form, a bad target, an
    upload that is not a plan workbook): 400."""


class NoResident(LookupError):
    """Profile ids that lead nowhere or outside the caller's communities (the same answer for both): 404."""


class AnswersNotTaken(RuntimeError):
    """The ingest loop could not take the answers (no Kafka settings, the broker did not answer):
    503, upload again."""


class AnswerIntake(Protocol):
    """The ingest loop the answers go through (``services.ingest.IngestService``): ``spec`` raises
    :class:`services.ingest.UnknownSource` (404), ``push`` :class:`services.ingest.BatchNotTaken`."""

    def spec(self, source: str) -> ConnectorSpec: ...

    def push(self, spec: ConnectorSpec, batch_id: str, rows: Sequence[Mapping[str, Cell]],
             *, reader: Reader | None = None) -> RunCounts: ...


class OpenObjections(Protocol):
    """Open objections per profile (``store.objections.ObjectionStore``): their fields are marked 有异议."""

    def open_on(self, profile_ids: list[str]) -> dict[str, list[Objection]]: ...


def form_names(forms_dir: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (forms_dir or FORMS_DIR).glob("*.yaml") if _FORM_NAME.match(p.stem))


def load_form(name: str, forms_dir: Path | None = None) -> FormTemplate:
    path = (forms_dir or FORMS_DIR) / f"{name}.yaml"
    if not _FORM_NAME.match(name) or not path.is_file():
        raise UnknownForm(f"no form {name!r} (known: {', '.join(form_names(forms_dir)) or 'none'})")
    return FormTemplate.from_dict(name, yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def load_forms(forms_dir: Path | None = None) -> list[FormTemplate]:
    return [load_form(name, forms_dir) for name in form_names(forms_dir)]


def may_plan(principal: Principal, community: str | None, grid: str | None) -> bool:
    """The principal's scope (``core.access``): its communities, or its grids ("社区/网格")."""
    return may_see_community(principal, community, grid)


class PlanningService:
    """Forms, targets and scope; the plan as the principal may see it; answers into the ingest loop."""

    def __init__(self, engine: Engine, audit: Auditor, *, objections: OpenObjections | None = None,
                 grants: Mapping[str, Grant] | None = None, ingest: AnswerIntake | None = None,
                 forms_dir: Path | None = None) -> None:
        self.engine = engine
        self.audit = audit
        self.objections = objections
        self.grants = grants
        self.ingest = ingest
        self.forms_dir = forms_dir

    # -- forms ----------------------------------------------------------------------------------
    def forms(self) -> list[FormTemplate]:
        return load_forms(self.forms_dir)

    def choosable_fields(self) -> list[str]:
        extra = [f for form in self.forms() for f in form.fields if f.startswith("attributes.")]
        return list(dict.fromkeys([*CANONICAL_FIELDS, *extra, *ATTRIBUTES]))

    def labeller(self) -> Callable[[str], str]:
        """Field → heading: as a shipped form names it, else as the console does (姓名, 现住地址 …)."""
        named = {f: text for form in reversed(self.forms()) for f, text in form.labels.items()}
        return lambda field: named.get(field) or catalogue().label(field)

    def form(self, name: str | None, fields: Sequence[str] | None, title: str | None) -> FormTemplate:
        if name and fields:
            raise PlanRefused("give either a form name or a list of fields, not both")
        if name:
            try:
                return load_form(name, self.forms_dir)
            except UnknownForm as exc:
                raise PlanRefused(str(exc)) from None
        if not fields:
            raise PlanRefused("give a form (one of: " + ", ".join(f.name for f in self.forms()) +
                              ") or the fields of an ad-hoc form")
        try:
            chosen, label = tuple(f.strip() for f in fields), self.labeller()
            return FormTemplate(name="adhoc", title=(title or "").strip() or "自定义采集表", fields=chosen,
                                labels={f: label(f) for f in chosen})
        except UnknownField as exc:
            raise PlanRefused(str(exc)) from None
        except ValueError as exc:
            raise PlanRefused(str(exc)) from None

    def target(self, community: str | None, grid: str | None, profile_ids: Sequence[str] | None) -> PlanTarget:
        try:
            return PlanTarget(community=community, grid=grid, profile_ids=tuple(profile_ids or ()))
        except InvalidTarget as exc:
            raise PlanRefused(str(exc)) from None

    # -- scope ----------------------------------------------------------------------------------
    def communities(self, principal: Principal) -> list[str]:
        """The communities the principal may plan: a worker's own, every known one for a steward."""
        require_planner(principal)
        if principal.role == "community_worker":
            return sorted(principal.communities | {g.partition("/")[0] for g in principal.grids})
        return known_communities(self.engine)

    def grids(self, communities: Collection[str], principal: Principal) -> dict[str, list[str]]:
        """The grids named by each community's residents (read from the stored documents) that the
        principal may plan: all of a community in its scope, else only its own grids (网格员)."""
        found = named_grids(self.engine, communities)
        for qualified in principal.grids:  # a grid worker's own grids, as its scope names them
            community, _, grid = qualified.partition("/")
            if community in found:
                found[community].add(grid)
        return {c: sorted((g for g in grids if may_plan(principal, c, f"{c}/{g}")), key=_natural)
                for c, grids in found.items()}

    def _check_community(self, principal: Principal, community: str, grid: str | None) -> None:
        if not may_plan(principal, community, f"{community}/{grid}" if grid else None):
            where = f"{community} {grid}" if grid else community
            mine = ", ".join(sorted(principal.communities | principal.grids)) or "none"
            raise AccessDenied(f"{where} is outside your communities: you may plan {mine}")

    def residents(self, principal: Principal, target: PlanTarget) -> list[Profile]:
        require_planner(principal)
        if target.community is not None:
            self._check_community(principal, target.community, target.grid)
            # Where the store places each resident (community and qualified grid, core.places): the
            # same rows a profile read is scoped by. A grid worker (网格员) planning a community sees
            # only its own grids' residents (the SQL scope, asked again of each row as a profile
            # read asks it).
            return [r.profile for r in placed_residents(self.engine, target.community, target.grid, scope_of(principal))
                    if may_plan(principal, r.community, r.grid)]
        located, unknown = locate(self.engine, target.profile_ids)
        outside = [f.asked for f in located
                   if not may_plan(principal, f.community, f.grid)]
        if unknown or outside:
            # The same answer for unknown and out-of-scope ids: a worker learns nothing of other communities.
            missing = unknown + outside
            more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
            raise NoResident(f"no resident profile {', '.join(repr(m) for m in missing[:5])} in your communities{more}")
        return list({f.profile.profile_id: f.profile for f in located}.values())

    # -- plans ----------------------------------------------------------------------------------
    def plan(self, principal: Principal, form: FormTemplate, target: PlanTarget, *,
             purpose: str = PLAN_PURPOSE, action: str = "plan_collection") -> tuple[CollectionPlan, PlanView]:
        people = self.residents(principal, target)
        objections = self.objections
        disputed = ({pid: [o.field for o in found] for pid, found in
                     objections.open_on([p.profile_id for p in people]).items()} if objections is not None else {})
        # 住址有冲突: the records place these residents in different communities, asked for a door check.
        collection = plan_collection(people, form, disputed=disputed,
                                     contested=contested(self.engine, [p.profile_id for p in people]))
        view = plan_view(collection, {p.profile_id: p for p in people}, principal, grants=self.grants)
        self.audit.append(principal, action, redact_purpose(purpose), [r.profile_id for r in collection.residents],
                          view.disclosed)
        return collection, view

    def answer(self, form: FormTemplate, target: PlanTarget, collection: CollectionPlan,
               view: PlanView) -> dict[str, Any]:
        planned = collection.form  # the form, with the door-check columns when a resident is asked for one
        return {
            "form": {"name": form.name, "title": form.title,
                     "fields": [{"field": f, "label": planned.label(f)} for f in planned.fields]},
            "target": {"kind": target.kind, "community": target.community, "grid": target.grid,
                       "profile_ids": list(target.profile_ids)},
            "residents": view.residents,
            "requested": collection.requested,
            "known": collection.known,
            "missing": collection.requested - collection.known,
            "share_known": round(collection.share_known, 4),
            "min_age": form.min_age,
            "left_out": dict(collection.left_out),  # deceased / under the form's minimum age
        }

    def xlsx(self, collection: CollectionPlan, view: PlanView) -> bytes:
        cells = {r["profile_id"]: {k["field"]: as_cell(k["value"]) for k in r["known"]} for r in view.residents}
        return workbook_bytes(collection, cells)

    def operator_plan(self, principal: Principal, form_name: str, *, asked: str, community: str | None = None,
                      grid: str | None = None, profile_ids: Sequence[str] | None = None,
                      purpose: str = OPERATOR_PLAN_PURPOSE) -> CollectionPlan:
        """A steward's plan at the terminal (``onceonly plan``): every active resident the store places
        in ``community`` (or its ``grid``), or the active profiles with the given ids, planned for the
        form; its workbook shows known values as ``services.plan_workbook.shown`` does. Appends one
        ``plan_collection`` entry naming its residents and the form's fields; profile ids that lead
        nowhere, an unknown form or any other refusal append ``refused:plan_collection`` (``asked``,
        redacted, says what was asked) and raise."""
        require_planner(principal)
        try:
            template = load_form(form_name, self.forms_dir)
            people = residents(self.engine, community=community, grid=grid, profile_ids=profile_ids)
            collection = plan_collection(people, template,
                                         contested=contested(self.engine, [p.profile_id for p in people]))
            if profile_ids and not collection.residents:
                raise LookupError(f"no active resident profile {', '.join(sorted(set(profile_ids))[:5])}")
        except (LookupError, ValueError) as exc:
            self.audit.append(principal, "refused:plan_collection", redact(f"{asked} — {exc}")[:300], [], [])
            raise
        self.audit.append(principal, "plan_collection", redact_purpose(purpose)[:200],
                          [r.profile_id for r in collection.residents], list(collection.form.fields))
        return collection

    # -- the way back ---------------------------------------------------------------------------
    def take_answers(self, principal: Principal, data: bytes, *, purpose: str = ANSWERS_PURPOSE) -> dict[str, Any]:
        """Turn a returned workbook's answered gaps into community visit records and run them through
        the ingest loop: ``rows == empty + read`` and ``read == events + unchanged + dead_letters``."""
        require_planner(principal)
        if self.ingest is None:
            raise AnswersNotTaken("answers go in through the ingest loop, which needs the hub's Kafka settings")
        try:
            filled = read_workbook(data)
        except UnreadableWorkbook as exc:
            raise PlanRefused(f"the upload is not a plan workbook: {exc}") from None
        try:
            form = FormTemplate(name=filled.form_name, title=filled.form_name, fields=filled.fields,
                                door_check=filled.door_check)
        except ValueError as exc:
            raise PlanRefused(f"the workbook's row 2 does not name a form: {exc}") from None
        spec = self.ingest.spec(ANSWER_SOURCE)
        mapping = spec.field_mapping()
        if mapping is None or len(spec.record_id) != 1:
            raise AnswersNotTaken(f"the {ANSWER_SOURCE} mapping cannot take answers (no field mapping or record id)")
        batch_id = f"planner-{date.today().isoformat()}-{uuid.uuid4().hex[:8]}"
        located, _ = locate(self.engine, [pid for _, pid, _ in filled.rows if pid])
        by_id = {f.asked: f for f in located}
        checks = contested(self.engine, [f.profile.profile_id for f in located])  # asked for a door check
        today = date.today()
        rows: list[NativeRow | UnreadableRow] = []
        empty, ignored, not_carried, sent, answered = 0, 0, Counter[str](), [], set[str]()
        for number, profile_id, cells in filled.rows:
            where = f"{batch_id}#row{number}"
            if profile_id is None:
                rows.append(UnreadableRow(where, "no profile_id in column A: the row names no resident"))
                continue
            found = by_id.get(profile_id)
            if found is None or not may_plan(principal, found.community, found.grid):
                rows.append(UnreadableRow(where, f"no resident profile {profile_id!r} in your communities"))
                continue
            single = plan_collection([found.profile], form, contested=checks)
            if not single.residents:
                rows.append(UnreadableRow(where, "the resident is not one this form is for (deceased, or younger "
                                                 "than its minimum age)"))
                continue
            resident = single.residents[0]
            view = plan_view(single, {found.profile.profile_id: found.profile}, principal, grants=self.grants)
            prefilled = {k["field"]: as_cell(k["value"]) for k in view.residents[0]["known"]}
            collected = collected_answers(resident, cells, prefilled)
            ignored += len(collected.ignored)
            if not collected.answers:
                empty += 1
                continue
            row, uncarried = visit_row(collected, found.profile, single.form, mapping, spec.record_id[0],
                                       answered_on=today)
            not_carried.update(uncarried)
            if len(uncarried) == len(collected.answers):
                rows.append(UnreadableRow(where, f"the {ANSWER_SOURCE} source does not carry "
                                                 f"{', '.join(uncarried)}: nothing to take in"))
                continue
            rows.append(NativeRow(where, row))
            sent.append(found.profile.profile_id)
            answered.update(f for f in collected.answers if f not in uncarried)
        counts = None
        try:
            counts = self.ingest.push(spec, batch_id, [], reader=_AnswerRows(rows))
        except BatchNotTaken as exc:  # nothing unacknowledged was checkpointed: uploading again is safe
            log.warning("planner answers: batch %s not taken in: %s", batch_id, exc.cause)
            raise AnswersNotTaken(f"the answers were not taken in ({exc.cause}); upload them again") from exc
        finally:
            self.audit.append(principal, "collect_answers" if counts else "collect_answers_failed", redact_purpose(purpose), sent,
                              sorted(answered))
        return {"source": ANSWER_SOURCE, "batch_id": batch_id, "rows": len(filled.rows), "empty": empty,
                "read": counts.read, "events": counts.events, "unchanged": counts.unchanged,
                "dead_letters": counts.dead_letters, "residents": sent,
                "changed_known_cells": ignored, "not_carried": dict(not_carried)}


class _AnswerRows:
    """The answers as one page for the shared connector loop (rows it could not read included)."""

    def __init__(self, rows: Sequence[NativeRow | UnreadableRow]) -> None:
        self.rows = rows

    def pages(self, cursors: CursorLookup) -> Iterator[Page]:
        yield Page(rows=list(self.rows))

    def scanned_scopes(self) -> Sequence[str] | None:
        return []  # answers say nothing about residents they do not mention: nothing is ended

    def unchanged_scopes(self) -> Sequence[str]:
        return []


def _natural(text: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))
