"""The mapping workbench for stewards (映射检查与重新标准化), as JSON and as a console page: check a
source's mapping file (or a draft of it) on an uploaded sample of the department's file, and
re-standardise the source from its raw topic after the fix (parse → ``services.mapping_check`` /
``services.restandardise`` → answer)."""

# No ``from __future__ import annotations``: FastAPI resolves the routes' Annotated parameters,
# defined inside the router functions, at runtime.
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse
from kafka.errors import KafkaError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.mapping_responses import MappingCheckOut, RestandardisedOut
from api.planner import MAX_UPLOAD_BYTES, check_workbook_size
from connectors.spec import ConnectorSpec
from core.access import Principal, require
from services.mapping_check import MappingCheckService
from services.queries import BadQuery, NotFound, Unavailable
from services.restandardise import NotRestandardisable, Restandardised, RestandardiseService

MAX_MAPPING_BYTES = 256 * 1024
UPLOAD_PATHS = ("/api/v1/mappings/", "/console/mappings/check")  # their body limit: a sample file


class Workbench:
    """What the routes need: the mapping files, the two services (built when asked: the steward has
    just edited a mapping file, and Kafka may be away)."""

    def __init__(self, specs: Callable[[], dict[str, ConnectorSpec]], checks: MappingCheckService,
                 restandardiser: Callable[[], RestandardiseService]) -> None:
        self.specs = specs
        self.checks = checks
        self.restandardiser = restandardiser

    def sources(self) -> list[str]:
        return sorted(s for s, spec in self.specs().items() if spec.standardise is not None)

    def check(self, principal: Principal, source: str, sample: bytes, filename: str,
              draft: bytes | None = None) -> dict[str, Any]:
        require(principal, "dead_letters")
        spec = _draft(draft) if draft else self.specs().get(source)
        if spec is None:
            raise NotFound(f"no mapping file for source {source!r}")
        if spec.source != source:
            raise BadQuery(f"the uploaded mapping is for {spec.source!r}, not {source!r}")
        suffix = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
        if suffix == ".xlsx":
            check_workbook_size(sample)
        with tempfile.TemporaryDirectory(prefix="onceonly-mapping-check-") as folder:
            path = Path(folder) / f"sample{suffix}"  # the department's file name is not trusted as a path
            path.write_bytes(sample)
            try:
                return self.checks.check(principal, spec, path).as_dict()
            except ValueError as exc:
                raise BadQuery(str(exc)) from None

    def restandardise(self, principal: Principal, source: str) -> Restandardised:
        require(principal, "dead_letters")
        try:
            return self.restandardiser().run(principal, source)
        except NotRestandardisable as exc:
            raise NotFound(str(exc)) from None
        except (RuntimeError, OSError, KafkaError) as exc:
            raise Unavailable(f"re-standardising {source} needs Kafka ({type(exc).__name__}); nothing was sent "
                              "that a retry would send twice") from None


def _draft(data: bytes) -> ConnectorSpec:
    """An uploaded draft of a mapping file, checked like a file in ``mappings/``."""
    try:
        return ConnectorSpec.model_validate(yaml.safe_load(data.decode("utf-8")))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadQuery(f"the mapping is not UTF-8 YAML: {type(exc).__name__}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadQuery(f"the mapping does not validate at {where}: {first['msg']}") from None


async def _read(file: UploadFile, limit: int, what: str) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"the {what} is over {limit // 1024:,} KB: upload a sample")
    return data


def mapping_workbench_router(bench: Workbench, principal_dep: Any) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["pipeline"])
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.post("/mappings/{source}/check")
    async def check(principal: Me, source: str,
                    file: Annotated[UploadFile, File(description="a sample of the department's file (CSV or XLSX)")],
                    mapping: Annotated[UploadFile | None, File(description="a draft of the mapping file (YAML); "
                                                                           "default: the source's own")] = None,
                    ) -> MappingCheckOut:
        """What the mapping makes of the sample, nothing sent: fill and parse rate per field, a sample
        side by side, coded values outside their tables, refused rows with reasons, match evidence."""
        require(principal, "dead_letters")
        sample = await _read(file, MAX_UPLOAD_BYTES, "sample")
        draft = await _read(mapping, MAX_MAPPING_BYTES, "mapping") if mapping is not None else None
        return MappingCheckOut.model_validate(
            await run_in_threadpool(bench.check, principal, source, sample, file.filename or "", draft))

    @router.post("/sources/{source}/restandardise")
    async def restandardise(principal: Me, source: str) -> RestandardisedOut:
        """Re-standardise the source from its raw topic after a mapping fix: only records whose
        standardised form changes send new events; the department is not pulled again. Audited."""
        done = await run_in_threadpool(bench.restandardise, principal, source)
        return RestandardisedOut.model_validate(done.as_dict())

    return router


def mapping_workbench_console_router(bench: Workbench, principal_dep: Any) -> APIRouter:
    """The steward's 映射检查 page: upload a sample (and a draft mapping), see the report; re-standardise."""
    from api.console import templates

    router = APIRouter(prefix="/console", include_in_schema=False)
    Me = Annotated[Principal, Depends(principal_dep)]
    Source = Annotated[str, Form(max_length=64)]

    def page(request: Request, principal: Principal, status: int = 200, **ctx: Any) -> HTMLResponse:
        require(principal, "dead_letters")
        return templates.TemplateResponse(request, "mappings.html", {
            "me": principal, "sources": bench.sources(), **ctx}, status_code=status)

    @router.get("/mappings")
    def workbench_page(request: Request, principal: Me) -> HTMLResponse:
        return page(request, principal)

    @router.post("/mappings/check")
    async def check(request: Request, principal: Me, source: Source, file: Annotated[UploadFile, File()],
                    mapping: Annotated[UploadFile | None, File()] = None) -> HTMLResponse:
        require(principal, "dead_letters")
        try:
            sample = await _read(file, MAX_UPLOAD_BYTES, "sample")
            draft = await _read(mapping, MAX_MAPPING_BYTES, "mapping") if mapping is not None and mapping.filename \
                else None
            report = await run_in_threadpool(bench.check, principal, source, sample, file.filename or "", draft)
        except (BadQuery, NotFound) as exc:
            return page(request, principal, status=400 if isinstance(exc, BadQuery) else 404, chosen=source,
                        error=f"未能检查：{exc}")
        except HTTPException as exc:
            if exc.status_code != 413:
                raise
            return page(request, principal, status=413, chosen=source, error=f"未能检查：{exc.detail}")
        return page(request, principal, chosen=source, report=report)

    @router.post("/mappings/restandardise")
    async def restandardise(request: Request, principal: Me, source: Source) -> HTMLResponse:
        try:
            done = await run_in_threadpool(bench.restandardise, principal, source)
        except (NotFound, Unavailable) as exc:
            return page(request, principal, status=404 if isinstance(exc, NotFound) else 503, chosen=source,
                        error=f"未能重新标准化：{exc}")
        return page(request, principal, chosen=source, done=(
            f"{source}：{done.records} 条记录，{done.changed} 条标准化结果变化并已重新发送，{done.unchanged} 条未变，"
            f"{done.refused} 条按新映射无法读取（已转死信），{done.pending} 条尚待流处理"))

    return router
