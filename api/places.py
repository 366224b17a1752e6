"""The gazetteer's routes for stewards: its summary, the keys whose facts disagree, and a
correction (parse → ``services.gazetteer`` → answer)."""


from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from core.access import Principal
from core.access.catalogue import catalogue
from services.gazetteer import CorrectPlace, GazetteerService, UnknownPlace
from services.queries import NotFound
from store.places import PlaceRow


class CorrectionBody(BaseModel):
    place_key: str = Field(min_length=3, max_length=200, description='e.g. "c:秦虹#3" (compound 秦虹小区, building 3)')
    community: str | None = Field(default=None, max_length=100, description="None withdraws the last correction")
    grid: str | None = Field(default=None, max_length=100)
    reason: str = Field(default="", max_length=500)


class PlaceFactOut(BaseModel):
    origin: str
    source: str
    source_name: str
    record_id: str
    community: str
    grid: str | None


class PlaceOut(BaseModel):
    place_key: str
    community: str
    grid: str | None
    origin: str
    disagreement: bool
    facts: list[PlaceFactOut]


class CorrectionOut(BaseModel):
    event_id: str
    place_key: str
    community: str | None
    grid: str | None


def _source_name(source: str) -> str:
    # a steward's correction has no department: the catalogue names the departments (mapping titles)
    return "数据管理员" if source == "steward" else catalogue().department(source)


def place_out(row: PlaceRow) -> PlaceOut:
    return PlaceOut(place_key=row.place_key, community=row.community, grid=row.grid, origin=row.origin,
                    disagreement=row.disagreement,
                    facts=[PlaceFactOut(origin=f.origin, source=f.source, source_name=_source_name(f.source),
                                        record_id=f.record_id, community=f.community, grid=f.grid) for f in row.facts])


def places_router(service: GazetteerService, principal_dep: Any) -> APIRouter:
    router = APIRouter(prefix="/api/v1/places", tags=["gazetteer"])
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.get("/summary")
    def summary(principal: Me) -> dict[str, int]:
        """Keys per origin (standard_address, record, steward) and how many disagree."""
        return service.summary(principal)

    @router.get("/disagreements")
    def disagreements(principal: Me, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[PlaceOut]:
        """Keys whose facts disagree: records among themselves, or records against the standard file."""
        return [place_out(r) for r in service.disagreements(principal, limit=limit)]

    @router.post("/corrections")
    async def correct(principal: Me, body: CorrectionBody) -> CorrectionOut:
        """Assign a key to a community and grid (an event on the places topic, audited); every
        profile located through it is re-derived by the places agent."""
        try:
            event = await run_in_threadpool(service.correct, principal, CorrectPlace(
                place_key=body.place_key, community=body.community, grid=body.grid, reason=body.reason))
        except UnknownPlace as exc:
            raise NotFound(str(exc)) from exc
        return CorrectionOut(event_id=event.event_id, place_key=event.place_key, community=event.community,
                             grid=event.grid)

    return router


ORIGIN_NAMES = {"standard_address": "标准地址", "record": "记录学得", "steward": "人工更正"}


def place_name(key: str) -> str:
    """A place key in words: "c:秦虹#3" → "秦虹 3栋", "r:秦虹路#12" → "秦虹路12号"."""
    kind, _, rest = key.partition(":")
    parts = rest.split("#")
    if kind == "c":
        return f"{parts[0]} {parts[1]}栋" if len(parts) > 1 else f"{parts[0]}（小区）"
    if kind == "r" and len(parts) >= 2:
        return f"{parts[0]}{parts[1]}号" + (f" {parts[2]}栋" if len(parts) > 2 else "")
    return key


def places_console_router(service: GazetteerService, principal_dep: Any) -> APIRouter:
    """The steward's 标准地址库 page: disagreements with their facts, and a correction form."""
    from fastapi import Form, Request
    from fastapi.responses import HTMLResponse

    from api.console import templates

    templates.env.globals.update(place_name=place_name, origin_name=lambda o: ORIGIN_NAMES.get(o, o))
    router = APIRouter(prefix="/console", include_in_schema=False)
    Me = Annotated[Principal, Depends(principal_dep)]

    def page(request: Request, principal: Principal, status: int = 200, **ctx: Any) -> HTMLResponse:
        counts = service.summary(principal)
        total = sum(v for k, v in counts.items() if k != "disagreement")
        return templates.TemplateResponse(request, "places.html", {
            "me": principal, "counts": counts, "total": total,
            "rows": [place_out(r) for r in service.disagreements(principal, limit=100)], **ctx}, status_code=status)

    @router.get("/places")
    def places_page(request: Request, principal: Me) -> HTMLResponse:
        return page(request, principal)

    @router.post("/places")
    async def correct_place(request: Request, principal: Me, place_key: Annotated[str, Form(max_length=200)],
                            community: Annotated[str, Form(max_length=100)],
                            grid: Annotated[str, Form(max_length=100)] = "",
                            reason: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse:
        try:
            await run_in_threadpool(service.correct, principal, CorrectPlace(
                place_key=place_key, community=community.strip() or None, grid=grid.strip() or None, reason=reason))
        except UnknownPlace:
            return page(request, principal, status=404, error="标准地址库中没有这个地址")
        return page(request, principal, done=f"已更正 {place_name(place_key)} → {community} {grid}".strip()
                    + "：相关居民画像将重新归属")

    return router
