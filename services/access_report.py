"""A resident's own access report (个人信息查阅记录, PIPL Art. 45): every read of one resident's
data — when, by which role and department, which fields, for what purpose — following merges
(the reads of every profile merged into this one, and of the one a merged-away id leads to).

A steward or an auditor exports it; the export is itself audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from core.access import AccessDenied, Principal
from services.ports import Auditor
from store.audit import AuditEntry, AuditLog
from store.profile_lookup import profile_lineage

__all__ = ["ACTION_NAMES", "AccessLine", "AccessReport", "AccessReportService"]

# What each audited action means to the resident (the rest show as logged).
ACTION_NAMES = {
    "read_profile": "查看居民画像", "read_profile_as_of": "查看历史画像", "unmask": "查看完整信息（身份号码、电话等）",
    "search": "查询命中", "read_household": "查看同户成员", "read_history": "查看变更历史",
    "read_community": "社区居民名单", "read_changes": "查看近期变动", "read_reviews": "人工复核",
    "plan_collection": "生成采集计划", "collect_answers": "入户采集回流", "raise_objection": "提出数据异议",
    "answer_objection": "答复数据异议", "withdraw_objection": "撤回数据异议", "read_objections": "查看数据异议",
    "confirm_review": "确认匹配", "reject_review": "驳回匹配", "split_profile": "拆分画像", "undo_merge": "撤销合并",
    "access_report": "导出查阅记录", "refused": "被拒绝的访问",
}
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class AccessLine:
    at: datetime
    username: str
    role: str
    department: str | None
    action: str
    purpose: str
    fields: tuple[str, ...]
    profile_id: str  # which of the resident's profile ids was read

    @property
    def action_name(self) -> str:
        return ACTION_NAMES.get(self.action, self.action)


@dataclass(frozen=True)
class AccessReport:
    resident: str  # the active profile id
    profile_ids: tuple[str, ...]  # it and every id merged into it
    generated_at: datetime
    generated_by: str
    lines: tuple[AccessLine, ...]  # oldest first


class AccessReportService:
    def __init__(self, engine: Engine, audit: AuditLog, auditor: Auditor,
                 department_of: Callable[[str], str | None]) -> None:
        self.engine = engine
        self.audit = audit  # the log read
        self.auditor = auditor  # where the export itself is written
        self.department_of = department_of  # user id → the department of a machine account

    def report(self, principal: Principal, profile_id: str) -> AccessReport:
        if principal.role not in ("steward", "auditor"):
            raise AccessDenied(f"role {principal.role} may not export a resident's access report")
        resident, ids = self._lineage(profile_id)
        if resident is None:
            raise LookupError(f"no resident profile {profile_id!r}")
        seen: dict[int, tuple[AuditEntry, str]] = {}
        for pid in ids:
            for entry in self.audit.entries(resident=pid, limit=MAX_ENTRIES):
                seen.setdefault(entry.seq, (entry, pid))
        departments: dict[str, str | None] = {}
        lines = []
        for _, (entry, pid) in sorted(seen.items()):
            if entry.user_id not in departments:
                departments[entry.user_id] = self.department_of(entry.user_id)
            lines.append(AccessLine(at=entry.at, username=entry.username, role=entry.role,
                                    department=departments[entry.user_id], action=entry.action,
                                    purpose=entry.purpose, fields=entry.fields, profile_id=pid))
        self.auditor.append(principal, "access_report", "个人信息查阅记录（PIPL 第45条）", list(ids), ["audit"])
        return AccessReport(resident=resident, profile_ids=tuple(ids), generated_at=datetime.now(UTC),
                            generated_by=principal.username, lines=tuple(lines))

    def _lineage(self, profile_id: str) -> tuple[str | None, list[str]]:
        """The active profile behind ``profile_id``, and it with every profile merged into it."""
        return profile_lineage(self.engine, profile_id)
