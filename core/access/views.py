"""What a principal is shown of a profile: each field shown, masked or left out, with provenance.

Pure: takes a folded :class:`core.profile.Profile` and the caller's principal, grants and the
fields it asked to unmask; returns plain dicts for the API and the console, and the list of
fields it disclosed (for the audit entry). For the console, in Chinese: why a record was linked
(:func:`link_reasons`), a history line per event (:func:`history_line`), what changed in a resident
(:func:`changes_between`) and times in Asia/Shanghai (:func:`local_time`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.access.catalogue import FieldCatalogue, catalogue
from core.access.grants import Grant
from core.access.masking import FIELDS, FieldView, mask_value, visibility
from core.access.roles import Principal
from core.privacy import redact
from core.profile import Golden, Profile
from schemas.profile_events import (
    FieldEvidence,
    PendingReview,
    ProfileCreated,
    ProfileEvent,
    ProfilesMerged,
    ProfileSplit,
    RecordEnded,
    RecordLinked,
    RecordUpdated,
    ResidentDeceased,
    ResidentMoved,
    ReviewRequested,
    ReviewResolved,
)
from schemas.resident import Address, ResidentRecord


@dataclass
class Disclosure:
    """The fields a view disclosed: ``name`` shown, ``id_number*`` masked, ``+id_number`` unmasked."""

    fields: list[str] = field(default_factory=list)

    def note(self, name: str, view: FieldView, unmasked: bool) -> None:
        tag = f"+{name}" if unmasked else (f"{name}*" if view == "masked" else name)
        if tag not in self.fields:
            self.fields.append(tag)


def render(value: Any) -> str | list[str]:
    """A field value as text: addresses by their written form, dates ISO, phones a list."""
    if isinstance(value, Address):
        return value.raw
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [str(v) for v in value]
    return str(value)


def _shown(field_name: str, value: Any, view: FieldView) -> str | list[str]:
    text = render(value)
    if view != "masked":
        return text
    if isinstance(text, list):
        return [mask_value(field_name, v) for v in text]
    return mask_value(field_name, text)


def _golden_fields(profile: Profile) -> list[tuple[str, Golden[Any]]]:
    golden = profile.golden
    out: list[tuple[str, Golden[Any]]] = [(n, g) for n in FIELDS if (g := getattr(golden, n)) is not None]
    out += [(f"attributes.{k}", g) for k, g in sorted(golden.attributes.items())]
    return out


def field_views(profile: Profile, principal: Principal, *, unmask: Collection[str] = (),
                grants: Mapping[str, Grant] | None = None, disclosure: Disclosure | None = None
                ) -> list[dict[str, Any]]:
    """Every golden field the principal may see: value, source, observed time, conflicts."""
    out = []
    for name, golden in _golden_fields(profile):
        view = visibility(principal, name, unmask=unmask, grants=grants)
        if view == "hidden":
            continue
        if disclosure is not None:
            disclosure.note(name, view, unmasked=view == "shown" and name in unmask)
        out.append({
            "field": name,
            "value": _shown(name, golden.value, view),
            "masked": view == "masked",
            "source": golden.provenance.source,
            "record_id": golden.provenance.record_id,
            "observed_at": golden.provenance.observed_at.isoformat(),
            "conflicted": golden.conflicted,
            "conflicts": [{"value": _shown(name, c.value, view), "source": c.provenance.source,
                           "record_id": c.provenance.record_id, "observed_at": c.provenance.observed_at.isoformat()}
                          for c in golden.conflicts],
        })
    return out


SUMMARY_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "name"), ("sex", "sex"), ("birth_date", "birth_date"), ("id_number", "id_number"),
    ("household_id", "household_id"), ("relation_to_head", "relation_to_head"), ("address", "residential_address"),
)  # (key in a hit, the field whose visibility applies)


def summary(profile: Profile, principal: Principal, *, grants: Mapping[str, Grant] | None = None,
            disclosure: Disclosure | None = None) -> dict[str, Any]:
    """A search hit or household member: identity fields only, masked as the role requires."""
    golden = profile.golden
    residential = golden.residential_address or golden.registered_address
    values: dict[str, Any] = {}
    for key, value in (("name", golden.name), ("sex", golden.sex), ("birth_date", golden.birth_date),
                       ("id_number", golden.id_number), ("household_id", golden.household_id),
                       ("relation_to_head", golden.relation_to_head), ("address", residential)):
        values[key] = None if value is None else render(value.value)
    return summary_of(profile.profile_id, values, principal, grants=grants, disclosure=disclosure)


def summary_of(profile_id: str, values: Mapping[str, Any], principal: Principal, *,
               grants: Mapping[str, Grant] | None = None, disclosure: Disclosure | None = None) -> dict[str, Any]:
    """:func:`summary` from the rendered values of the store's read-side columns (no document).

    A sensitive value may be given already masked (the store keeps ID numbers masked beside the
    document): masking is idempotent, so it is shown masked either way; the caller passes the clear
    value only where :func:`core.access.visibility` says ``shown``.
    """
    out: dict[str, Any] = {"profile_id": profile_id}
    for name, key in SUMMARY_FIELDS:
        value = values.get(name)
        view = visibility(principal, key, grants=grants)
        if view == "hidden" or value is None:
            out[name] = None
            continue
        if disclosure is not None:
            disclosure.note(key, view, unmasked=False)
        shown = _shown(key, value, view)
        out[name] = shown if isinstance(shown, str) else "、".join(shown)
    return out


def record_view(record: ResidentRecord, principal: Principal, *, unmask: Collection[str] = (),
                grants: Mapping[str, Grant] | None = None) -> dict[str, Any]:
    """A source record's canonical fields, masked like the profile's."""
    out: dict[str, Any] = {"source": record.source, "record_id": record.record_id,
                           "observed_at": record.observed_at.isoformat()}
    values: dict[str, Any] = {
        "name": record.name, "id_number": record.id_number or record.id_number_invalid, "sex": record.sex,
        "birth_date": record.birth_date or record.birth_month, "phones": record.phones or None,
        "household_id": record.household_id,
        "residential_address": record.addresses.get("residential") or record.addresses.get("registered"),
    }
    for key, val in record.attributes.items():
        values[f"attributes.{key}"] = val
    for name, value in values.items():
        if value is None:
            continue
        view = visibility(principal, name, unmask=unmask, grants=grants)
        if view != "hidden":
            shown = _shown(name, value, view)
            out[name] = shown if isinstance(shown, str) else "、".join(shown)
    return out


def evidence_view(evidence: Collection[FieldEvidence]) -> list[dict[str, Any]]:
    """Per-field evidence of a match; compared values of sensitive fields masked."""
    out = []
    for e in evidence:
        sensitive = e.field in ("id_number", "phones", "phone")
        kind = "phones" if e.field.startswith("phone") else e.field
        out.append({"field": e.field, "level": e.level, "weight": round(e.weight, 3),
                    "left": mask_value(kind, e.left) if sensitive and e.left else e.left,
                    "right": mask_value(kind, e.right) if sensitive and e.right else e.right})
    return out


def evidence_weights(evidence: Collection[FieldEvidence]) -> list[dict[str, Any]]:
    """Why a linked record was linked, without the compared values: comparison, level, weight."""
    return [{"field": e.field, "level": e.level, "weight": round(e.weight, 3)} for e in evidence]


def review_view(review: PendingReview, candidates: Mapping[str, Profile], principal: Principal) -> dict[str, Any]:
    """A pending review side by side: the record, each candidate profile, the evidence and weights."""
    return {
        "review_id": review.review_id,
        "score": round(review.score, 3),
        "requested_at": review.requested_at.isoformat(),
        "record": record_view(review.record, principal),
        "candidates": [summary(candidates[c], principal) if c in candidates else {"profile_id": c}
                       for c in review.candidate_profile_ids],
        "evidence": evidence_view(review.evidence),
    }


# -- in Chinese, for the console: why a record was linked, history lines, local times ------------------
SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = {"id_number": "身份证号一致", "probabilistic": "多项信息比对", "steward": "人工确认"}
_DECIDED_BY_RESOLVER = "resolver"


def local_time(at: datetime | str | None, *, seconds: bool = False) -> str:
    """A time as workers read it, in Asia/Shanghai: ``2025-06-01 16:00`` (a naive time is UTC)."""
    if at is None or at == "":
        return ""
    when = datetime.fromisoformat(at) if isinstance(at, str) else at
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def link_reasons(evidence: Iterable[FieldEvidence | Mapping[str, Any]],
                 cat: FieldCatalogue | None = None) -> list[dict[str, Any]]:
    """Why a record was linked, field by field: ``[{"text": "身份证号一致", "weight": 28.9, "agrees": True}]``,
    strongest first; comparisons with a side missing are left out. Only the phrase and the weight are
    given, never the compared values (an ID number stays out of the page whatever its masking)."""
    cat = cat or catalogue()
    out = []
    for e in evidence:
        comparison, level, weight = ((e.field, e.level, e.weight) if isinstance(e, FieldEvidence)
                                     else (str(e["field"]), str(e["level"]), float(e["weight"])))
        text = cat.evidence_text(comparison, level)
        if text is not None:
            out.append({"field": comparison, "level": level, "text": text, "weight": round(weight, 2),
                        "agrees": weight > 0})
    return sorted(out, key=lambda r: -abs(r["weight"]))


def link_summary(rule: str, score: float, evidence: Iterable[FieldEvidence | Mapping[str, Any]],
                 cat: FieldCatalogue | None = None) -> str:
    """One line: ``身份证号一致，得分 1.00`` or ``姓名一致、同一住址（或户号）、性别一致，得分 0.99``."""
    reasons = link_reasons(evidence, cat)
    if rule == "id_number":
        said = "身份证号一致"
    elif rule == "steward":
        said = "人工确认"
    elif reasons:
        said = "、".join([r["text"] for r in reasons if r["agrees"]][:3]) or "多项信息比对"
    else:
        said = "首条记录"
    return f"{said}，得分 {score:.2f}"


def history_line(event: ProfileEvent, cat: FieldCatalogue | None = None) -> str:
    """One profile event as a line of the profile's history, in Chinese; no ID number appears
    (records are named by source and record id, reasons are redacted by the fold)."""
    cat = cat or catalogue()

    def record(source: str, record_id: str) -> str:
        return f"{cat.department(source)} 记录 {record_id}"

    if isinstance(event, ProfileCreated):
        return "建立档案"
    if isinstance(event, RecordLinked):
        return (f"关联 {record(event.record.source, event.record.record_id)}"
                f"（{link_summary(event.rule, event.score, event.evidence, cat)}）")
    if isinstance(event, RecordUpdated):
        return f"{record(event.record.source, event.record.record_id)} 在来源更新"
    if isinstance(event, RecordEnded):
        return f"{record(event.source, event.record_id)} 在来源删除，不再参与取值"
    if isinstance(event, ProfilesMerged):
        by = "系统依据新证据自动" if event.decided_by == _DECIDED_BY_RESOLVER else f"管理员 {event.decided_by} "
        why = "" if event.decided_by == _DECIDED_BY_RESOLVER else f"：{redact(event.reason)}"
        reasons = "、".join([r["text"] for r in link_reasons(event.evidence, cat) if r["agrees"]][:3])
        because = f"（{reasons}）" if reasons else ""
        if event.profile_id == event.survivor:
            return (f"合并：{by}并入画像 {event.merged_away[:8]} 的 {len(event.records)} 条记录{because}{why}")
        return f"合并：{by}并入画像 {event.survivor[:8]}{because}{why}"
    if isinstance(event, ProfileSplit):
        n = len(event.records)
        undo = "撤销合并，" if event.undoes else ""
        why = f"（管理员 {event.steward}：{redact(event.reason)}）"
        if event.profile_id == event.from_profile:
            return f"拆分：{undo}{n} 条记录拆出至画像 {event.to_profile[:8]}{why}"
        return f"拆分：{undo}自画像 {event.from_profile[:8]} 拆入 {n} 条记录{why}"
    if isinstance(event, ReviewRequested):
        return (f"待人工复核：{record(event.record.source, event.record.record_id)}"
                f"（得分 {event.score:.2f}，候选画像 {len(event.candidate_profile_ids)} 个）")
    if isinstance(event, ReviewResolved):
        decided = "确认归入本画像" if event.decision == "confirm" else "驳回，另立画像"
        return f"人工复核：{decided}（管理员 {event.steward}）"
    if isinstance(event, ResidentDeceased):
        return f"死亡注销：{event.deceased_on.isoformat()}（{cat.department(event.source)}）"
    if isinstance(event, ResidentMoved):
        return _moved_line(event, cat)
    return type(event).__name__


def _moved_line(event: ResidentMoved, cat: FieldCatalogue) -> str:
    source = cat.department(event.source)
    if event.address_kind == "registered" and event.moved_on is not None:
        return f"迁出注销：{event.moved_on.isoformat()}（{source}）"
    kind = "户籍地址" if event.address_kind == "registered" else "现住地址"
    was = event.from_address.raw if event.from_address else "（无）"
    now = event.to_address.raw if event.to_address else "（无）"
    return f"{kind}变更：{was} → {now}（{source}）"


CHANGE_NAMES: Mapping[str, str] = {"new": "新建档", "moved_in": "迁入或住址变更", "moved_out": "迁出",
                                   "died": "去世", "new_phone": "新电话"}


def changes_between(before: Profile | None, after: Profile) -> list[dict[str, Any]]:
    """What a community worker should know changed in a resident between two states of the profile:
    a new resident (新建档), a new home (迁入或住址变更), moved out (迁出), died (去世), a new phone
    (masked). ``before`` is ``None`` when the profile did not exist yet."""
    if before is None:
        return [{"kind": "new", "text": CHANGE_NAMES["new"]}]
    old, new = before.golden, after.golden
    out: list[dict[str, Any]] = []
    if new.deceased_on is not None and old.deceased_on is None:
        out.append({"kind": "died", "text": f"去世（{new.deceased_on.value.isoformat()}）"})
    if new.moved_out_on is not None and old.moved_out_on is None:
        out.append({"kind": "moved_out", "text": f"迁出（{new.moved_out_on.value.isoformat()}）"})
    was = old.residential_address.value.raw if old.residential_address else None
    now = new.residential_address.value.raw if new.residential_address else None
    if now is not None and was != now:
        out.append({"kind": "moved_in", "text": f"住址变更为 {now}"})
    phones_before = set(old.phones.value) if old.phones else set()
    added = [p for p in (new.phones.value if new.phones else ()) if p not in phones_before]
    if added:
        out.append({"kind": "new_phone", "text": "新电话 " + "、".join(mask_value("phones", p) for p in added)})
    return out
