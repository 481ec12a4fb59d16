"""The review page's web server (Starlette on uvicorn), for this machine only.

Security (the page shows the unmasked faces of people who may be at risk):

- it listens on 127.0.0.1 only, and answers only requests whose ``Host`` is this
  machine's loopback address at its port (no DNS rebinding);
- every request needs the session's random token: the page itself as ``?token=`` in the
  printed URL, everything else in the ``X-Veil-Token`` header (so no other site can make
  a request that counts); anything else gets 403. No cookies are set or read;
- files are known by their number in the session's list; no path from a request ever
  reaches the disk;
- the page loads nothing from anywhere else (a strict Content-Security-Policy), and no
  response may be cached (``Cache-Control: no-store``): nothing of the originals is
  written to disk beyond the plan.
"""

from __future__ import annotations

import hmac
import secrets
import socket
import threading
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veil.errors import VeilError
from veil.review.frames import jpeg
from veil.review.state import EditError, Item, Session, current_version

TOKEN_HEADER = "x-veil-token"
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}


class Guard:
    """ASGI middleware: loopback ``Host``, token on every request, no-store headers."""

    def __init__(self, app: ASGIApp, token: str, port: int) -> None:
        self.app, self.token, self.port = app, token, port

    def _allowed(self, scope: Scope) -> bool:
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if host not in {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}:
            return False
        given = headers.get(TOKEN_HEADER.encode(), b"").decode("latin-1")
        if scope.get("path") == "/" and scope.get("method") == "GET" and not given:
            from urllib.parse import parse_qs

            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [""])[0]
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no websockets, no lifespan work
        if not self._allowed(scope):
            response = Response("forbidden\n", status_code=403, media_type="text/plain",
                                headers=SECURITY_HEADERS)
            await response(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"set-cookie"]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secure)


def _static(name: str) -> str:
    return resources.files("veil.review").joinpath("static", name).read_text(encoding="utf-8")


def page_html(nonce: str) -> str:
    """The page: one HTML document with its style and script inlined (nothing else loads)."""
    html = _static("index.html")
    return (html.replace("{{STYLE}}", _static("review.css"))
                .replace("{{SCRIPT}}", _static("review.js"))
                .replace("{{NONCE}}", nonce))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _jpeg(data: bytes) -> Response:
    return Response(data, media_type="image/jpeg")


def regions_of(item: Item, frame: int) -> list[dict[str, Any]]:
    """The regions of ``frame`` as the plan holds them (deleted ones too: the page shows
    them as a record), each with its index in the frame's list."""
    assert item.plan is not None
    out = []
    for i, r in enumerate(item.plan.frame(frame).regions):
        d = r.to_dict()
        d["index"] = i
        d["released"] = r.released
        out.append(d)
    return out


def tracks_of(item: Item) -> list[dict[str, Any]]:
    """Per track: its frames as runs of one provenance, and whether it is released.
    Worked out once per change of the file (a long video's plan is walked whole for it),
    not for every frame the page shows."""
    return item.memo("tracks", lambda: _tracks_of(item))


def _tracks_of(item: Item) -> list[dict[str, Any]]:
    assert item.plan is not None
    tracks: dict[int, dict[str, Any]] = {}
    for f in sorted(item.plan.frames):
        for r in item.plan.frames[f].regions:
            if r.track_id is None or r.provenance == "deleted":
                continue
            t = tracks.setdefault(r.track_id, {"track": r.track_id, "first": f, "last": f,
                                               "runs": [], "released": 0, "regions": 0,
                                               "best": (0.0, f)})
            t["last"] = f
            t["regions"] += 1
            t["released"] += int(r.released)
            area = (r.box[2] - r.box[0]) * (r.box[3] - r.box[1])
            if r.provenance in ("detected", "manual") and area > t["best"][0]:
                t["best"] = (area, f)
            runs = t["runs"]
            if runs and runs[-1][2] == r.provenance and runs[-1][1] == f - 1:
                runs[-1][1] = f
            else:
                runs.append([f, f, r.provenance])
    out = []
    for t in tracks.values():
        t["thumb_frame"] = t.pop("best")[1]
        t["all_released"] = t["released"] == t["regions"]
        out.append(t)
    return sorted(out, key=lambda t: (t["first"], t["track"]))


def make_app(session: Session, token: str, port: int) -> ASGIApp:
    """The ASGI application of ``session``, guarded by ``token`` for ``127.0.0.1:port``."""

    def get_item(request: Request) -> Item:
        try:
            return session.item(int(request.path_params["file_id"]))
        except (KeyError, ValueError) as exc:
            raise LookupError("no such file") from exc

    async def call(fn: Any, *args: Any, **kw: Any) -> Any:
        return await run_in_threadpool(fn, *args, **kw)

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError as exc:
            raise EditError("the request body is not JSON") from exc
        if not isinstance(data, dict):
            raise EditError("the request body is not a JSON object")
        return data

    def handler(fn: Any) -> Any:
        async def wrapped(request: Request) -> Response:
            try:
                return await fn(request)
            except LookupError as exc:
                return _error(404, str(exc.args[0]) if exc.args else "not found")
            except EditError as exc:
                return _error(400, str(exc))
            except (ValueError, TypeError):
                return _error(400, "a number was expected")
            except VeilError as exc:
                return _error(422, str(exc))
        return wrapped

    async def index(request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        csp = ("default-src 'none'; img-src blob:; connect-src 'self'; "
               f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        return HTMLResponse(page_html(nonce), headers={"content-security-policy": csp})

    async def files(request: Request) -> Response:
        """The file list; with ``?since=V`` only the rows changed after version ``V`` (the
        page polls this every second: a large folder costs nothing while nothing changes)."""
        since = int(request.query_params.get("since", "-1") or -1)
        version = current_version()
        data: dict[str, Any] = {
            "version": version, "count": len(session.items),
            "files": [it.summary() for it in session.items if it.version > since],
            "report": bool(session._entries),
        }
        if since < 0:
            data["refused"] = [{"name": r.source.name, "error": r.error}
                               for r in session.refused]
            data["outdir"] = str(session.outdir)
        return JSONResponse(data)

    async def file_info(request: Request) -> Response:
        item = get_item(request)
        frame = int(request.query_params.get("frame", "0") or 0)
        if await call(session.pending, item):  # not scanned yet: scanned next, not waited for
            return JSONResponse({**item.summary(), "frame": frame, "pending": True,
                                 "regions": [], "tracks": []})
        await call(session.ensure_plan, item)
        data = item.summary()
        data["frame"] = frame
        data["regions"] = regions_of(item, frame)
        if item.kind == "video":
            # ``have=V``: the page holds the track list of version V; unchanged since, it is
            # not sent again (a long video may have a thousand tracks: every frame shown
            # would carry them all)
            have = request.query_params.get("have")
            if have is None or int(have) != data["version"]:
                data["tracks"] = tracks_of(item)
        return JSONResponse(data)

    async def picture(request: Request) -> Response:
        item = get_item(request)
        frame = int(request.path_params.get("frame", 0))
        masked = request.path_params["which"] == "preview"
        if request.path_params["which"] not in ("original", "preview"):
            raise LookupError("not found")

        def make() -> bytes:
            plan = session.ensure_plan(item)
            if not 0 <= frame < max(plan.media.frame_count, 1):
                raise LookupError("no such frame")
            rgb = session.original_pixels(item, frame)
            if masked:
                from veil.render.masks import mask_regions, mask_whole_frame

                fp = plan.frame(frame)
                rgb = (mask_whole_frame(rgb, plan.mask) if fp.mask_whole
                       else mask_regions(rgb, fp.active_boxes(), plan.mask))
            return jpeg(rgb)

        return _jpeg(await call(make))

    async def thumb(request: Request) -> Response:
        item = get_item(request)
        track = int(request.path_params["track"])

        def make() -> bytes:
            session.ensure_plan(item)
            found = [t for t in tracks_of(item) if t["track"] == track]
            if not found:
                raise LookupError("no such track")
            f = found[0]["thumb_frame"]
            rgb = session.original_pixels(item, f)
            assert item.plan is not None
            box = next(r.box for r in item.plan.frame(f).regions if r.track_id == track)
            h, w = rgb.shape[:2]
            bw, bh = box[2] - box[0], box[3] - box[1]
            x1, y1 = int(max(0, box[0] - 0.2 * bw)), int(max(0, box[1] - 0.2 * bh))
            x2, y2 = int(min(w, box[2] + 0.2 * bw)), int(min(h, box[3] + 0.2 * bh))
            crop = rgb[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
            import numpy as np
            from PIL import Image

            im = Image.fromarray(np.ascontiguousarray(crop))
            im.thumbnail((96, 96))
            return jpeg(np.asarray(im))

        return _jpeg(await call(make))

    async def add_region(request: Request) -> Response:
        item, data = get_item(request), await body(request)
        await call(session.add_region, item, data.get("frame", 0), data.get("box"))
        return JSONResponse({"ok": True})

    async def change_region(request: Request) -> Response:
        item, data = get_item(request), await body(request)
        released = data.get("released")
        await call(session.change_region, item, request.path_params["frame"],
                   int(request.path_params["index"]), box=data.get("box"),
                   released=None if released is None else bool(released),
                   reason=data.get("reason"))
        return JSONResponse({"ok": True})

    async def delete_region(request: Request) -> Response:
        item = get_item(request)
        await call(session.delete_region, item, request.path_params["frame"],
                   int(request.path_params["index"]))
        return JSONResponse({"ok": True})

    async def change_track(request: Request) -> Response:
        item, data = get_item(request), await body(request)
        await call(session.change_track, item, int(request.path_params["track"]),
                   released=bool(data.get("released")), reason=data.get("reason"),
                   from_frame=int(data.get("from_frame", 0) or 0))
        return JSONResponse({"ok": True})

    async def delete_track(request: Request) -> Response:
        item = get_item(request)
        start = int(request.query_params.get("from", "0") or 0)
        await call(session.delete_track, item, int(request.path_params["track"]), start)
        return JSONResponse({"ok": True})

    async def track_edit(request: Request) -> Response:
        item, data = get_item(request), await body(request)
        action, track = request.path_params["action"], request.path_params["track"]
        if action == "cut":
            await call(session.cut_track, item, track, data.get("frame"))
            return JSONResponse({"ok": True, "track": track})
        if action == "split":
            new = await call(session.split_track, item, track, data.get("frame"))
            return JSONResponse({"ok": True, "track": new})
        if action == "merge":
            kept = await call(session.merge_tracks, item, track, data.get("with"))
            return JSONResponse({"ok": True, "track": kept})
        raise LookupError("not found")

    async def follow(request: Request) -> Response:
        item, data = get_item(request), await body(request)
        track = await call(session.follow, item, data.get("frame", 0), data.get("box"))
        return JSONResponse({"ok": True, "track": track})

    async def render(request: Request) -> Response:
        item = get_item(request)
        if item.state == "rendering":
            return _error(409, "this file is being rendered")
        await call(session.ensure_plan, item)
        item.state = "rendering"
        threading.Thread(target=session.render, args=(item,), daemon=True,
                         name=f"veil-review-render-{item.id}").start()
        return JSONResponse({"ok": True, "state": "rendering"}, status_code=202)

    async def report(request: Request) -> Response:
        html = await call(session.report_html)
        if html is None:
            raise LookupError("no report yet: render a file first")
        return Response(html, media_type="text/html")

    f = "/api/files/{file_id:int}"
    routes = [
        Route("/", handler(index), methods=["GET"]),
        Route("/api/files", handler(files), methods=["GET"]),
        Route(f, handler(file_info), methods=["GET"]),
        Route(f + "/{which:str}.jpg", handler(picture), methods=["GET"]),
        Route(f + "/frames/{frame:int}/{which:str}.jpg", handler(picture), methods=["GET"]),
        Route(f + "/tracks/{track:int}/thumb.jpg", handler(thumb), methods=["GET"]),
        Route(f + "/regions", handler(add_region), methods=["POST"]),
        Route(f + "/regions/{frame:int}/{index:int}", handler(change_region),
              methods=["PATCH"]),
        Route(f + "/regions/{frame:int}/{index:int}", handler(delete_region),
              methods=["DELETE"]),
        Route(f + "/tracks/{track:int}", handler(change_track), methods=["PATCH"]),
        Route(f + "/tracks/{track:int}", handler(delete_track), methods=["DELETE"]),
        Route(f + "/tracks/{track:int}/{action:str}", handler(track_edit), methods=["POST"]),
        Route(f + "/follow", handler(follow), methods=["POST"]),
        Route(f + "/render", handler(render), methods=["POST"]),
        Route("/api/report", handler(report), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    return Guard(app, token, port)


def loopback_socket(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (``port`` 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


class ReviewServer:
    """Serves a :class:`Session` on 127.0.0.1 with a fresh token; ``url`` is the page."""

    def __init__(self, session: Session, port: int = 0) -> None:
        import uvicorn

        self.session = session
        self.token = secrets.token_urlsafe(32)
        self.sock = loopback_socket(port)
        self.port = int(self.sock.getsockname()[1])
        app = make_app(session, self.token, self.port)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                server_header=False, date_header=False)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        self.server.run(sockets=[self.sock])

    def start(self) -> None:
        """Serve in a background thread (tests, scripts)."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name="veil-review-server")
        self._thread.start()
        import time

        for _ in range(500):
            if self.server.started:
                return
            time.sleep(0.01)
        raise RuntimeError("the review server did not start")

    def stop(self) -> None:
        self.session.stop_scanning()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sock.close()
