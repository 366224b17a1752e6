"""The query service's JSON routes under ``/api/v1``: residents, households, reviews, pipeline, audit.

Routes decode, call :mod:`services.queries` / :mod:`services.pipeline` and answer; access decisions are in
``core.access``. ID numbers and phone numbers are only accepted in POST bodies, never in a URL
(URLs end up in access logs and browser histories).
"""


from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from api.audit_responses import AuditEntriesOut, AuditEntryOut, AuditVerificationOut
from api.pipeline_responses import DeadLettersOut, HealthHistoryOut, PipelineHealthOut, ReprocessedOut, SampleOut
from api.quality_responses import ValidationOut
from api.resident_responses import CallerOut, HouseholdOut, ProfileEventOut, ProfileOut, SearchOut
from api.review_responses import EmittedEventOut, ReviewDecisionOut, ReviewsOut
from core.access import FIELDS, FieldView, Principal, require
from core.privacy import redact
from services.dead_letters import DeadLetterService
from services.pipeline import PipelineViews
from services.quality import QualityViews
from services.queries import BadQuery, ResidentQueries, SearchQuery, Unavailable
from services.stewarding import Decided, StewardingService
from store.audit import AuditLog

Unmaskable = Literal["id_number", "phones", "attributes"]
PURPOSE = Field(min_length=4, max_length=200, description="why the data is needed (logged in the audit log)")
CONTESTED = "only residents whose records place them in different communities (住址有冲突: a door check, 入户核实, settles it)"
APART = "only residents registered in one place and living in another (人户分离)"


def _answer(content: Any) -> Response:
    """``content`` as JSON, written by pydantic-core in the worker thread that built it: a resident
    read is not validated a second time, nor sent back through the thread pool to be serialised
    (the route's ``response_model`` documents the shape)."""
    return Response(to_json(content), media_type="application/json")


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100, description="simplified, traditional or pinyin")
    id_number: str | None = Field(default=None, max_length=40, description="a citizen ID number (hashed, never logged)")
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=200)
    household: str | None = Field(default=None, max_length=64)
    contested: bool = Field(default=False, description=CONTESTED)
    apart: bool = Field(default=False, description=APART)
    page: int = Field(default=1, ge=1, le=1000)
    size: int = Field(default=20, ge=1, le=100)
    purpose: str = Field(default="居民查询", min_length=2, max_length=200)


class UnmaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: list[Unmaskable] = Field(min_length=1)
    purpose: str = PURPOSE


class ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: str = Field(min_length=1, max_length=64, description="the candidate the record belongs to")
    note: str = Field(default="", max_length=500)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500)


class ReprocessBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$", description="every open letter of a source")
    event_ids: list[Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")]] = Field(
        default_factory=list, max_length=1000, description="these dead letters (event ids)")


def v1_router(queries: ResidentQueries, pipeline: PipelineViews, stewarding: StewardingService, audit: AuditLog,
              principal_dep: Any, quality: QualityViews | None = None,
              *, dead_letter_service: DeadLetterService) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.get("/me", tags=["access"])
    def me(principal: Me) -> CallerOut:
        """Who the token or session belongs to, and their scope."""
        return CallerOut(username=principal.username, role=principal.role,
                         communities=sorted(principal.communities), grids=sorted(principal.grids),
                         department=principal.department)

    @router.get("/residents", tags=["residents"], response_model=SearchOut)
    def search_get(principal: Me, request: Request,
                   name: Annotated[str | None, Query(max_length=100)] = None,
                   address: Annotated[str | None, Query(max_length=200)] = None,
                   household: Annotated[str | None, Query(max_length=64)] = None,
                   id_hash: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{64}$",
                                                        description="keyed hash of an ID number")] = None,
                   contested: Annotated[bool, Query(description=CONTESTED)] = False,
                   apart: Annotated[bool, Query(description=APART)] = False,
                   page: Annotated[int, Query(ge=1, le=1000)] = 1,
                   size: Annotated[int, Query(ge=1, le=100)] = 20) -> Response:
        """Search by name (简体/繁體/pinyin), address, household number or ID hash; ranked, paged.
        ``contested`` (住址有冲突) and ``apart`` (人户分离) keep only the residents so flagged, as the
        console's home page filters them; either alone lists every such resident in the caller's scope.

        ID numbers and phone numbers are refused here: POST them to ``/residents/search``.
        """
        if {"id_number", "phone", "id", "idcard"} & set(request.query_params):
            raise BadQuery("ID numbers and phone numbers never go in a URL: POST them to /api/v1/residents/search")
        return _answer(queries.search(principal, SearchQuery(name=name, address=address, household=household,
                                                             id_hash=id_hash, contested=contested, apart=apart),
                                      page=page, size=size))

    @router.post("/residents/search", tags=["residents"], response_model=SearchOut)
    def search_post(principal: Me, body: SearchBody) -> Response:
        """Search with any criteria, including an ID number or phone number (kept out of URLs and logs)."""
        query = SearchQuery(name=body.name, id_number=body.id_number, phone=body.phone, address=body.address,
                            household=body.household, contested=body.contested, apart=body.apart)
        return _answer(queries.search(principal, query, page=body.page, size=body.size, purpose=body.purpose))

    @router.get("/residents/{profile_id}", tags=["residents"], response_model=ProfileOut)
    def profile(principal: Me, profile_id: str,
                as_of: Annotated[datetime | None, Query(description="the profile as it was at this time")] = None,
                purpose: Annotated[str, Query(min_length=2, max_length=200)] = "查看居民画像") -> Response:
        """A resident: every field with value, source and observed time, conflicts, linked records,
        household, history; masked fields as the role requires. ``as_of`` travels back in time."""
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        return _answer(queries.profile(principal, profile_id, at=as_of, purpose=purpose))

    @router.post("/residents/{profile_id}/unmask", tags=["residents"], response_model=ProfileOut)
    def unmask(principal: Me, profile_id: str, body: UnmaskBody) -> Response:
        """The profile with ``fields`` in clear; needs a purpose, and the unmasking is audited."""
        return _answer(queries.profile(principal, profile_id, unmask=set(body.fields), purpose=body.purpose))

    @router.get("/residents/{profile_id}/history", tags=["residents"])
    def history(principal: Me, profile_id: str) -> list[ProfileEventOut]:
        """The profile's events, oldest first (summaries hold no ID numbers)."""
        return [ProfileEventOut.model_validate(event) for event in queries.history(principal, profile_id)]

    @router.get("/households/{household_id}", tags=["residents"], response_model=HouseholdOut)
    def household(principal: Me, household_id: str) -> Response:
        """The active residents sharing a household number (户号), within the caller's scope."""
        return _answer(queries.household(principal, household_id))

    @router.get("/fields", tags=["access"])
    def fields(principal: Me) -> dict[str, FieldView]:
        """The canonical fields, and which of them this caller sees shown, masked or not at all."""
        from core.access import visibility

        return {f: visibility(principal, f, grants=queries.grants) for f in FIELDS}

    # -- stewards -------------------------------------------------------------------------------
    # A candidate merged away meanwhile is named by its profile id alone: its other keys stay out.
    @router.get("/reviews", tags=["stewards"], response_model_exclude_unset=True)
    def reviews(principal: Me, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                offset: Annotated[int, Query(ge=0)] = 0) -> ReviewsOut:
        """Pending reviews: the record beside each candidate profile, with each field's evidence and weight."""
        return ReviewsOut.model_validate(queries.reviews(principal, limit=limit, offset=offset))


    def decided(result: Decided) -> ReviewDecisionOut:
        return ReviewDecisionOut(command_id=result.command.command_id, published=result.published,
                                 events=[EmittedEventOut(type=type(e).__name__, profile_id=e.profile_id,
                                                         version=e.version) for e in result.events])

    @router.post("/reviews/{review_id}/confirm", tags=["stewards"])
    async def confirm(principal: Me, review_id: str, body: ConfirmBody) -> ReviewDecisionOut:
        """Link the reviewed record to the candidate ``profile_id``: emits the link (and merge) events."""
        return decided(await run_in_threadpool(stewarding.confirm, principal, review_id, body.profile_id, body.note))

    @router.post("/reviews/{review_id}/reject", tags=["stewards"])
    async def reject(principal: Me, review_id: str, body: RejectBody) -> ReviewDecisionOut:
        """The reviewed record is none of the candidates: it gets a profile of its own."""
        return decided(await run_in_threadpool(stewarding.reject, principal, review_id, body.note))

    @router.get("/dead-letters", tags=["stewards"])
    def dead_letters(principal: Me, source: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$")] = None,
                     status: Annotated[Literal["open", "resolved", "unreadable"] | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> DeadLettersOut:
        """Records that could not be read or standardised: source, location, reason, the row as read
        (ID numbers masked) and whether it was re-processed (``status``: open, resolved, unreadable)."""
        require(principal, "dead_letters")
        return DeadLettersOut.model_validate(dead_letter_service.letters(principal, source=source, limit=limit,
                                                                         status=status))

    @router.post("/dead-letters/reprocess", tags=["stewards"])
    async def reprocess(principal: Me, body: ReprocessBody) -> ReprocessedOut:
        """Run the selected dead letters (a source's open ones, or ``event_ids``) through the current
        mapping file: now readable → sent to ``raw.<source>`` once and marked resolved; still
        unreadable → kept, with the new reason. Answers the counts."""
        require(principal, "dead_letters")
        if not dead_letter_service.can_reprocess:
            raise Unavailable("re-processing needs the service's settings (Kafka, mapping files)")
        return ReprocessedOut.model_validate(await run_in_threadpool(
            dead_letter_service.reprocess, principal, source=body.source, event_ids=body.event_ids))

    @router.get("/pipeline/health", tags=["stewards"])
    def health(principal: Me) -> PipelineHealthOut:
        """Consumer lag per topic and consumer, connector-run counts and dead letters per source, profile
        counts, the latest validation pass rate. Also stored as a sample when the last one is old."""
        return PipelineHealthOut.model_validate(pipeline.health_now(principal))

    # A stored sample is answered with the figures it was stored with (older ones have fewer).
    @router.get("/pipeline/health/history", tags=["stewards"], response_model_exclude_unset=True)
    def health_history(principal: Me, since: Annotated[datetime | None, Query(
            description="samples taken at or after this time (default: the last 24 hours)")] = None) -> HealthHistoryOut:
        """Pipeline health over time: per sample, applied offsets and lag per consumer and topic,
        records/s, dead letters per source, profile counts, validation pass rate."""
        since, samples = pipeline.health_since(principal, since)
        return HealthHistoryOut(since=since.isoformat(), interval_seconds=pipeline.sample_seconds,
                                samples=[SampleOut.model_validate(s) for s in samples])

    @router.get("/validation", tags=["stewards"])
    def validation(principal: Me, per_source: Annotated[int, Query(ge=1, le=50)] = 5) -> ValidationOut:
        """The latest validated batches per source (quarantined first): status, record count, failed
        expectations, and links to the steward report and the Great Expectations Data Docs."""
        if quality is None:
            raise Unavailable("validation results need the service's settings (data directory)")
        return ValidationOut.model_validate(quality.summary(principal, per_source=per_source))

    # -- auditors -------------------------------------------------------------------------------
    # profile_ids only with resident: the answer keeps the keys it was built with.
    @router.get("/audit", tags=["audit"], response_model_exclude_unset=True)
    def audit_entries(principal: Me, resident: Annotated[str | None, Query(max_length=64)] = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      offset: Annotated[int, Query(ge=0)] = 0) -> AuditEntriesOut:
        """The audit log, newest first; with ``resident``, who looked at that resident, when and why,
        following merges (``profile_ids``: the profile ids looked up, the resident's lineage)."""
        require(principal, "audit")
        ids, entries = (audit.who_looked(resident, limit=limit, offset=offset) if resident is not None
                        else ([], audit.entries(limit=limit, offset=offset)))
        # The auditor's own read goes in the log too (after the read, so the answer is the log as it
        # was); it names no resident, so "who looked" at a resident lists reads of the resident only.
        audit.append(principal, "read_audit", "审计查阅", [],
                     ["audit_entries", *([f"who_looked:{redact(resident)}"] if resident is not None else [])])
        found = [AuditEntryOut(seq=e.seq, at=e.at.isoformat(), username=e.username, role=e.role, action=e.action,
                               purpose=e.purpose, residents=list(e.residents), fields=list(e.fields), hash=e.hash)
                 for e in entries]
        return AuditEntriesOut(entries=found, profile_ids=ids) if resident is not None else AuditEntriesOut(entries=found)

    @router.get("/audit/verify", tags=["audit"])
    def audit_verify(principal: Me) -> AuditVerificationOut:
        """Recompute the hash chain, the entries' MACs and the who-looked index, and hold the log
        against the signed checkpoints kept outside the database: ``ok`` is false when an entry was
        edited, deleted or re-chained, the log cut short or wiped, or the index edited."""
        require(principal, "audit")
        result = audit.verify()
        audit.append(principal, "read_audit", "审计校验", [], ["audit_verify"])
        return AuditVerificationOut(ok=result.ok, entries=result.entries, problems=list(result.problems),
                                    notes=list(result.notes), checkpoints=result.checkpoints)

    return router
