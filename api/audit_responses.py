"""The shapes of the auditors' routes: the audit log, its verification, and a resident's access report
(``/api/v1/audit``, ``/api/v1/residents/{id}/access-report``)."""

from __future__ import annotations

from pydantic import Field

from api.responses import Absent, ResponseModel, Timestamp, optional_key


class AuditEntryOut(ResponseModel):
    seq: int
    at: Timestamp
    username: str
    role: str
    action: str
    purpose: str
    residents: list[str]
    fields: list[str]
    hash: str


class AuditEntriesOut(ResponseModel):
    entries: list[AuditEntryOut] = Field(description="newest first")
    profile_ids: list[str] | Absent = optional_key("only when asked about a resident: the profile ids looked "
                                                   "up, the resident's lineage")


class AuditVerificationOut(ResponseModel):
    ok: bool = Field(description="false when an entry was edited, deleted or re-chained, the log cut short or "
                                 "wiped, or the index edited")
    entries: int
    problems: list[str]
    notes: list[str]
    checkpoints: int


class AccessReadOut(ResponseModel):
    """One read of the resident's data."""

    at: Timestamp
    username: str
    role: str
    department: str | None
    action: str
    action_name: str
    purpose: str
    fields: list[str]
    profile_id: str = Field(description="which of the resident's profile ids was read")


class AccessReportOut(ResponseModel):
    resident: str = Field(description="the active profile id")
    profile_ids: list[str] = Field(description="it and every id merged into it")
    generated_at: Timestamp
    generated_by: str
    reads: list[AccessReadOut] = Field(description="oldest first")
