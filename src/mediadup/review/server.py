"""`mediadup review`: a local web application over the last scan (Starlette, served by uvicorn).

Safety: it listens on loopback unless told otherwise; every request needs the random token of
this run (in the URL for pages and pictures, in the `X-Mediadup-Token` header for every change,
which another web page cannot send), a Host header naming this server (no DNS rebinding), and
files are addressed by catalog id, only those of the scan. Changes are POSTs with JSON bodies.
Applies and undos run the same journaled code as `mediadup apply` and `undo`, under the
catalog's lock, one at a time, in a thread whose progress the page follows.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from importlib.resources import files as package_files
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import api
from ..act.decisions import DecisionError, contents
from ..act.plan import choose_keeper, make_plan, with_choices
from ..records import MediadupError, Relation, plural
from ..report.text import human_size
from . import media
from .groups import Review

HEADER = "x-mediadup-token"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
BROWSER_ACTIONS = ("trash", "move", "hardlink", "symlink", "reflink")  # never a permanent delete from a page
STATIC = package_files("mediadup.review") / "static"
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",  # the token in the URL never leaves in a Referer
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
}


class Refused(MediadupError):
    """A request the server will not carry out; the message says why (HTTP 400 or 409)."""


@dataclass
class Job:
    """The apply or undo running (or last run) from the page."""

    number: int = 0  # counts the jobs started, so the page reports each one once
    what: str = ""
    running: bool = False
    ended: int = 0
    total: int = 0
    result: dict[str, Any] = field(default_factory=dict)


class Guard:
    """Every request needs this run's token: in the URL (`?token=`) for pages and pictures, in the
    header for API calls (changes included, which must be POSTs). 403 otherwise."""

    def __init__(self, app: ASGIApp, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        header = request.headers.get(HEADER, "")
        query = request.query_params.get("token", "")
        api_call = scope["path"].startswith("/api/")
        given = header if api_call else (header or query)
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            why = "this request needs the token of the running `mediadup review` (in its printed URL)"
            return await JSONResponse({"error": why}, status_code=403)(scope, receive, send)
        if api_call and scope["method"] not in ("GET", "POST"):
            return await JSONResponse({"error": "method not allowed"}, status_code=405)(scope, receive, send)
        await self.app(scope, receive, send)


def create_app(catalog_path: str, token: str, allowed_hosts: list[str]) -> Starlette:
    """The review application over the catalog's last scan."""
    review = Review(catalog_path)
    lock = threading.RLock()  # the groups in memory, and one apply or undo at a time
    job = Job()

    def member(file_id: int):
        with lock:
            m = review.files.get(file_id)
        if m is None:
            raise Refused(f"no file {file_id} in the scan")
        return m

    async def index(request: Request) -> Response:
        page = (STATIC / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("{{token}}", token), headers=SECURITY_HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("review.js", "review.css"):
            return Response(status_code=404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return Response((STATIC / name).read_bytes(), media_type=kind, headers=SECURITY_HEADERS)

    def groups(request: Request) -> Response:
        q = request.query_params
        with lock:
            return _json(
                review.page(q.get("tab", "duplicates"), q.get("relation", ""), q.get("folder", ""), q.get("kind", ""),
                            _int(q.get("min_size", "0")), q.get("sort", "reclaimable"), _int(q.get("page", "0")))
                | {"job": _job_json(job), "catalog": catalog_path, "actions": BROWSER_ACTIONS,
                   "rules": list(api.RULES.items())}
            )  # fmt: skip

    def thumb(request: Request) -> Response:
        m = member(_int(request.path_params["id"]))
        data = media.thumbnail(m.path, m.size, m.mtime_ns, m.is_video) if m.copy else None
        if data is None:
            return Response(status_code=404)
        return Response(
            data, media_type="image/jpeg", headers=SECURITY_HEADERS | {"Cache-Control": "private, max-age=600"}
        )

    def full(request: Request) -> Response:
        """The file at full resolution: as it is when a browser shows it, else converted."""
        m = member(_int(request.path_params["id"]))
        if m.copy is None:
            return Response(status_code=404)
        kind = media.video_type(m.path) if m.is_video else media.browser_type(m.path)
        if kind:
            return FileResponse(m.path, media_type=kind, headers=SECURITY_HEADERS)
        data = None if m.is_video else media.converted(m.path, m.size, m.mtime_ns)
        return Response(data, media_type="image/jpeg", headers=SECURITY_HEADERS) if data else Response(status_code=415)

    def frames(request: Request) -> Response:
        m = member(_int(request.path_params["id"]))
        data = media.strip(m.path, m.size, m.mtime_ns) if m.is_video and m.copy else None
        return Response(data, media_type="image/jpeg", headers=SECURITY_HEADERS) if data else Response(status_code=404)

    async def choose(request: Request) -> Response:
        """Keep a file, leave it out of applies, include it again, or say it is not a duplicate."""
        body = await _body(request)
        what = body.get("choice")
        if what not in ("keep", "leave", "include", "differs"):
            raise Refused("choice must be keep, leave, include or differs")
        return _json(await _run(lambda: _choose(_int(body.get("group")), _int(body.get("id")), what)))

    def _choose(number: int, file_id: int, what: str) -> dict:
        with lock:
            _idle(job)
            group = review.group(number)
            m = next((x for x in group.members if x.id == file_id), None) if group else None
            if group is None or m is None:
                raise Refused(f"no file {file_id} in group {number} of the scan")
            if m.copy is None:
                raise Refused(f"{m.path} is gone or changed since the scan: scan again")
            if what == "keep" and m.role != "keep" and not Relation(m.relation).removable:
                raise Refused(f"{os.path.basename(m.path)} is no copy of the keeper ({m.relation}): the keeper would "
                              "go for it. Keep both: leave it out, or say it is not a duplicate")  # fmt: skip
            with review.catalog() as cat:
                if what == "keep":
                    for other in group.members:  # one keeper per group
                        if other.copy and review.choice(other) == "keep":
                            cat.choose(other.path, other.copy.size, other.copy.mtime_ns, None)
                    scan_keeper = m.role == "keep"
                    cat.choose(m.path, m.copy.size, m.copy.mtime_ns, None if scan_keeper else "keep")
                elif what == "differs":
                    others = [o.path for o in group.members if o is not m and o.copy]
                    try:
                        items = contents([m.path, *others])
                    except DecisionError as e:
                        raise Refused(str(e)) from e
                    mine, rest = items[0], [i for i in items[1:] if i[0] != items[0][0]]
                    if not rest:
                        raise Refused("these files are byte-identical: they are duplicates whatever one decides")
                    cat.ignore([(mine, other) for other in rest])
                    cat.choose(m.path, m.copy.size, m.copy.mtime_ns, "differs")
                else:
                    cat.choose(m.path, m.copy.size, m.copy.mtime_ns, "leave" if what == "leave" else None)
            review.load_choices()
            return review.as_json(group)

    async def rules(request: Request) -> Response:
        """Apply ordered keep rules to every group: each keeper they pick that is not the scan's
        becomes a choice (as if clicked); choices made by hand before are replaced."""
        body = await _body(request)
        chosen = [str(r) for r in body.get("rules", []) if str(r) in api.RULES]
        if not chosen:
            raise Refused("give at least one keep rule")
        return _json(await _run(lambda: _apply_rules(",".join(chosen))))

    def _apply_rules(policy: str) -> dict:
        with lock:
            _idle(job)
            changed = 0
            with review.catalog() as cat:
                for path, (size, mtime, what) in review.choices.items():
                    if what == "keep":
                        cat.choose(path, size, mtime, None)
                for group in review.groups:
                    # the files the user left in (left out and not duplicates stay so); the
                    # scan's keeper first, as in a plan
                    copies = [m.copy for m in group.members if m.copy and review.choice(m) in (None, "keep")]
                    if len(copies) < 2 or copies[0].relation is not Relation.KEEPER:
                        continue
                    kept = choose_keeper(copies, policy)
                    if kept.relation is not Relation.KEEPER:
                        cat.choose(kept.path, kept.size, kept.mtime_ns, "keep")
                        changed += 1
            review.load_choices()
            return {"changed": changed, "message": f"{plural(changed, 'keeper')} changed by the rules {policy}"}

    async def reset(request: Request) -> Response:
        def forget() -> dict:
            with lock:
                _idle(job)
                with review.catalog() as cat:
                    n = cat.forget_choices()
                review.load_choices()
                return {"message": f"{plural(n, 'choice')} forgotten"}

        return _json(await _run(forget))

    def plan(request: Request) -> Response:
        """The plan's summary, from the groups in memory (quick at every click; the apply plans anew)."""
        q = request.query_params
        action, to = q.get("action", "trash"), q.get("to") or None
        _check_action(action, to)
        with lock:
            decided, _ = with_choices([[m.copy for m in g.members if m.copy] for g in review.groups], review.choices)
        similar, uncertain = q.get("similar") == "1", q.get("uncertain") == "1"
        removals = make_plan(decided, action, "quality", (), to, False, similar, uncertain)
        notes = api.link_notes(decided, action)
        total = sum(a.size for a in removals)
        return _json({"files": len(removals), "bytes": total, "notes": notes,
                      "summary": f"{plural(len(removals), 'file')}, {human_size(total)}"})  # fmt: skip

    def _plan(action: str, to: str | None, uncertain: bool, similar: bool) -> api.Plan:
        _check_action(action, to)
        return api.plan(catalog_path, action=action, to=to, include_uncertain=uncertain, include_similar=similar)

    async def apply(request: Request) -> Response:
        body = await _body(request)
        plan = _plan(str(body.get("action", "trash")), body.get("to") or None, bool(body.get("uncertain")),
                     bool(body.get("similar")))  # fmt: skip

        def run() -> dict:
            outcome = api.apply(plan, catalog_path, progress=lambda n, total: _progress(job, n, total))
            return {
                "message": f"{api.REMOVALS[plan.action].done}: {plural(len(outcome.done), 'file')} "
                f"({human_size(outcome.reclaimed)}); {len(outcome.skipped)} skipped",
                "done": [a.path for a in outcome.done], "skipped": outcome.skipped, "notes": plan.notes,
            }  # fmt: skip

        _start(job, lock, "apply", run, review)
        return _json({"job": _job_json(job)})

    async def undo(request: Request) -> Response:
        def run() -> dict:
            result = api.undo(catalog_path)
            return {
                "message": f"restored {plural(len(result.restored), 'file')}; "
                f"{len(result.not_restored)} could not be restored",
                "restored": result.restored, "not_restored": result.not_restored,
            }  # fmt: skip

        _start(job, lock, "undo", run, review)
        return _json({"job": _job_json(job)})

    def status(request: Request) -> Response:
        return _json({"job": _job_json(job)})

    async def open_folder(request: Request) -> Response:
        body = await _body(request)
        m = member(_int(body.get("id")))
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        try:
            subprocess.Popen([opener, os.path.dirname(m.path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as e:
            raise Refused(f"cannot open the folder here ({e.strerror or e})") from e
        return _json({"message": f"opened {os.path.dirname(m.path)}"})

    async def refused(request: Request, e: Exception) -> Response:
        status = 409 if isinstance(e, Busy) else 400
        return JSONResponse({"error": str(e)}, status_code=status, headers=SECURITY_HEADERS)

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/thumb/{id}", thumb),
        Route("/file/{id}", full),
        Route("/frames/{id}", frames),
        Route("/api/groups", groups),
        Route("/api/choose", choose, methods=["POST"]),
        Route("/api/rules", rules, methods=["POST"]),
        Route("/api/reset", reset, methods=["POST"]),
        Route("/api/plan", plan),
        Route("/api/apply", apply, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/api/job", status),
        Route("/api/open", open_folder, methods=["POST"]),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts), Middleware(Guard, token=token)]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={MediadupError: refused})


def _check_action(action: str, to: str | None) -> None:
    if action not in BROWSER_ACTIONS:
        raise Refused(f"the page can {', '.join(BROWSER_ACTIONS)}; delete for good with `mediadup apply`")
    if action == "move" and not (to and os.path.isabs(to)):
        raise Refused("moving needs a folder: give its full path")


class Busy(Refused):
    """An apply or undo is running: wait for it."""


def _idle(job: Job) -> None:
    if job.running:
        raise Busy(f"an {job.what} is running: wait until it ends")


def _start(job: Job, lock: threading.RLock, what: str, run, review: Review) -> None:
    """Run an apply or undo in a thread (not a daemon: stopping the server waits for it)."""
    with lock:
        _idle(job)
        job.what, job.running, job.ended, job.total, job.result = what, True, 0, 0, {}
        job.number += 1

    def work() -> None:
        try:
            job.result = run()
        except MediadupError as e:
            job.result = {"error": str(e)}
        except Exception as e:  # said on the page, never a silent stop
            job.result = {"error": f"{type(e).__name__}: {e}"}
        finally:
            with lock:
                try:
                    review.load()
                finally:
                    job.running = False

    threading.Thread(target=work, name=f"mediadup {what}").start()


def _progress(job: Job, ended: int, total: int) -> None:
    job.ended, job.total = ended, total


def _job_json(job: Job) -> dict:
    return {
        "number": job.number,
        "what": job.what,
        "running": job.running,
        "ended": job.ended,
        "total": job.total,
        "result": job.result,
    }


def _json(data: Any) -> Response:
    return JSONResponse(data, headers=SECURITY_HEADERS)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Refused(f"not a number: {value!r}") from None


async def _body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise Refused("the request's body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused("the request's body must be a JSON object")
    return body


async def _run(work):
    """Run blocking work (the catalog, hashing) off the event loop."""
    return await run_in_threadpool(work)


def hosts_for(host: str) -> list[str]:
    """Host headers accepted: loopback names when listening on loopback, else any (the token still holds)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return list(LOOPBACK)
    return ["*"] if host in ("0.0.0.0", "::") else [host, *LOOPBACK]


def serve(catalog_path: str, host: str = "127.0.0.1", port: int = 0, announce=print) -> None:
    """Serve the review page until Ctrl-C; `announce(url)` once the server listens."""
    import uvicorn

    token = secrets.token_urlsafe(24)
    app = create_app(catalog_path, token, hosts_for(host))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        raise MediadupError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in host else host
    announce(f"http://{shown}:{bound}/?token={token}")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
