"""The HTTP API (FastAPI on uvicorn, started by `chaffee serve`): GET/POST /api/search, /api/speakers,
/healthz, and the search page at /. Bad input is a 400 naming the field: {"error": {"field", "message"}}."""

from __future__ import annotations

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from chaffee_assets.search.page import PAGE
from chaffee_assets.search.request import MAX_CONTEXT, MAX_K, MODES, BadRequest, checked

MAX_BODY_BYTES = 16_384


class SearchBody(BaseModel):
    q: str | None = None
    k: int = 10
    page: int = 1
    mode: str | None = None
    speaker: str | None = None
    video: str | None = None
    since: str | None = None
    until: str | None = None
    context: int = 1


class Neighbour(BaseModel):
    start_s: float
    end_s: float
    speaker: str
    text: str


class Hit(BaseModel):
    segment_id: int
    video_id: str
    title: str | None
    published_at: str | None = Field(description="YYYY-MM-DD")
    start_s: float
    end_s: float
    speaker: str
    text: str
    score: float = Field(description="hybrid: RRF sum; vector: cosine similarity; lexical: ts_rank_cd")
    ranks: dict[str, int] = Field(description="the hit's 1-based rank in each list it was in")
    url: str = Field(description="the moment in the video (YouTube t=)")
    highlights: list[list[int]] = Field(description="[start, end) character spans of text matching the query")
    context: dict[str, list[Neighbour]] = Field(description="segments before and after the hit, in order")


class Page(BaseModel):
    query: str
    mode: str
    model: str | None = Field(None, description="the embedding model that served the vector list (none: no corpus yet)")
    k: int
    page: int
    more: bool
    hits: list[Hit]


def problem(field: str, message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status)


def create_app(searcher, default_mode: str = "hybrid") -> FastAPI:
    app = FastAPI(title="chaffee search", version="1",
                  description="Hybrid (vector + full text, RRF) search over the speaker-attributed transcripts.")

    @app.exception_handler(BadRequest)
    async def bad_request(_request: Request, exc: BadRequest) -> JSONResponse:
        return problem(exc.field, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = str(first["loc"][-1]) if first.get("loc") else "request"
        return problem(field, f"{first.get('msg', 'invalid')}")

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > MAX_BODY_BYTES:
            return problem("body", f"{size} bytes; the limit is {MAX_BODY_BYTES}", 413)
        return await call_next(request)

    def run(q, k, page, mode, speaker, video, since, until, context) -> dict:
        req = checked(q, k=k, page=page, mode=mode or default_mode, speaker=speaker, video=video, since=since,
                      until=until, context=context)
        return searcher.search(req)

    @app.get("/api/search", response_model=Page, responses={400: {"description": "a parameter is wrong"}})
    def search_get(q: str | None = Query(None, description="the question or words"),
                   k: int = Query(10, description=f"hits per page, 1-{MAX_K}"), page: int = 1,
                   mode: str | None = Query(None, description=" | ".join(MODES)), speaker: str | None = None,
                   video: str | None = None, since: str | None = Query(None, description="YYYY-MM-DD"),
                   until: str | None = Query(None, description="YYYY-MM-DD"),
                   context: int = Query(1, description=f"neighbours each side, 0-{MAX_CONTEXT}")) -> dict:
        return run(q, k, page, mode, speaker, video, since, until, context)

    @app.post("/api/search", response_model=Page, responses={400: {"description": "a field is wrong"}})
    def search_post(body: SearchBody) -> dict:
        return run(**body.model_dump())

    @app.get("/api/speakers")
    def speakers() -> list[str]:
        with searcher.connection() as conn:
            return searcher.speakers(conn)

    @app.get("/healthz")
    def healthz() -> dict:
        with searcher.connection() as conn:
            conn.execute("SELECT 1")
        return {"ok": True}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return PAGE

    return app
