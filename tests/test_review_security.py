"""The review server's guard: loopback only, the token on every request, no path from a
request reaching the disk, nothing cached, nothing loaded from elsewhere."""

from __future__ import annotations

import http.client
import json
import os

import pytest

from conftest import save
from reviewtools import served
from veil.review.state import Session
from veil.settings import MaskSettings


@pytest.fixture(scope="module")
def server(small_astronaut, tmp_path_factory):
    root = tmp_path_factory.mktemp("review-security")
    save(small_astronaut, root / "in" / "a.png")
    (root / "secret.txt").write_text("root:x:0:0 do not serve me\n")
    session = Session([root / "in"], root / "out", mask=MaskSettings(method="solid"))
    with served(session) as srv:
        srv.root = root
        yield srv


def request(srv, method, path, *, token=True, headers=None, body=None, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    h = {"Host": host or f"127.0.0.1:{srv.port}"}
    if token is True:
        h["X-Veil-Token"] = srv.token
    elif token:
        h["X-Veil-Token"] = token
    h.update(headers or {})
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        h["Content-Type"] = "application/json"
        h["Content-Length"] = str(len(data))
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in h.items():
        conn.putheader(k, v)
    conn.endheaders(data)
    res = conn.getresponse()
    payload = res.read()
    conn.close()
    return res, payload


API = ["/api/files", "/api/files/0", "/api/files/0/original.jpg", "/api/files/0/preview.jpg",
       "/api/report"]


def test_listens_on_loopback_only(server):
    assert server.sock.getsockname()[0] == "127.0.0.1"
    assert server.url.startswith(f"http://127.0.0.1:{server.port}/?token=")
    assert len(server.token) >= 40


@pytest.mark.parametrize("path", ["/", *API])
def test_no_token_is_forbidden(server, path):
    res, body = request(server, "GET", path, token=False)
    assert res.status == 403
    assert b"PNG" not in body and b"JFIF" not in body


@pytest.mark.parametrize("path", ["/", *API])
def test_wrong_token_is_forbidden(server, path):
    res, _ = request(server, "GET", path, token=server.token[:-1] + "x")
    assert res.status == 403
    res, _ = request(server, "GET", path + ("&" if "?" in path else "?") + "token=nope",
                     token=False)
    assert res.status == 403


def test_token_in_the_url_only_opens_the_page(server):
    res, _ = request(server, "GET", f"/?token={server.token}", token=False)
    assert res.status == 200
    for path in API[:3]:
        res, _ = request(server, "GET", f"{path}?token={server.token}", token=False)
        assert res.status == 403, path  # the API wants the header: no cross-site requests


def test_edits_without_the_token_change_nothing(server):
    before = (server.root / "out.veil" / "plans" / "a.png.veil.json")
    request(server, "GET", "/api/files/0/original.jpg")  # make sure the plan exists
    text = before.read_text()
    for method, path, body in [("POST", "/api/files/0/regions", {"frame": 0,
                                                                  "box": [1, 1, 30, 30]}),
                               ("DELETE", "/api/files/0/regions/0/0", None),
                               ("PATCH", "/api/files/0/regions/0/0", {"released": True}),
                               ("POST", "/api/files/0/render", None)]:
        res, _ = request(server, method, path, token=False, body=body)
        assert res.status == 403
        res, _ = request(server, method, path, token=False, body=body,
                         headers={"Origin": "http://evil.example", "Cookie": "x=1"})
        assert res.status == 403
    assert before.read_text() == text


def test_cross_site_preflight_is_refused(server):
    res, _ = request(server, "OPTIONS", "/api/files/0/regions", token=False, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-veil-token"})
    assert res.status == 403
    assert res.getheader("access-control-allow-origin") is None


def test_other_host_names_are_refused(server):
    """DNS rebinding: a page of another site resolved to 127.0.0.1 still sends its Host."""
    for host in ["evil.example", f"evil.example:{server.port}", "127.0.0.1:1"]:
        res, _ = request(server, "GET", "/api/files", host=host)
        assert res.status == 403
    res, _ = request(server, "GET", "/api/files", host=f"localhost:{server.port}")
    assert res.status == 200


@pytest.mark.parametrize("path", [
    "/api/files/../../secret.txt", "/api/files/%2e%2e/%2e%2e/secret.txt",
    "/api/files/0/..%2f..%2f..%2fsecret.txt", "/api/files/0/%2e%2e%2f%2e%2e%2fsecret.txt.jpg",
    "//secret.txt", "/static/../secret.txt", "/api/files/-1", "/api/files/1",
    "/api/files/999999999999999999999", "/api/files/0x0", "/api/files/0/frames/1/original.jpg",
    "/api/files/0/secret.jpg", "/api/files/0/tracks/0/thumb.jpg", "/review.js", "/review.css",
    "/index.html", "/api/files/a.png", "/api/files/0/../../../../etc/passwd",
])
def test_no_path_reaches_the_disk(server, path):
    res, body = request(server, "GET", path)
    assert 400 <= res.status < 500, (path, res.status)
    assert b"do not serve me" not in body and b"root:" not in body


def test_symlinks_out_of_the_folder_are_refused(small_astronaut, tmp_path):
    save(small_astronaut, tmp_path / "elsewhere" / "private.png")
    save(small_astronaut, tmp_path / "in" / "a.png")
    os.symlink(tmp_path / "elsewhere" / "private.png", tmp_path / "in" / "link.png")
    session = Session([tmp_path / "in"], tmp_path / "out")
    assert [it.name for it in session.items] == ["a.png"]
    assert [(r.source.name, r.error) for r in session.refused] == [
        ("link.png", "a link to outside the folder")]


def test_responses_are_not_cached_and_set_no_cookie(server):
    res, body = request(server, "GET", f"/?token={server.token}", token=False)
    assert res.getheader("cache-control") == "no-store"
    assert res.getheader("set-cookie") is None
    assert res.getheader("referrer-policy") == "no-referrer"
    csp = res.getheader("content-security-policy")
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "http" not in csp and "unsafe" not in csp
    page = body.decode()
    assert server.token not in page                      # the page reads it from its URL
    for external in ("http://", "https://", "//fonts", "src=\"/", "href=\"/"):
        assert external not in page, external            # nothing loaded from anywhere
    res, _ = request(server, "GET", "/api/files/0/original.jpg")
    assert res.status == 200 and res.getheader("cache-control") == "no-store"
    assert res.getheader("set-cookie") is None


def test_nothing_of_the_originals_is_written(server):
    request(server, "GET", "/api/files/0/original.jpg")
    request(server, "GET", "/api/files/0/preview.jpg")
    written = sorted(p.relative_to(server.root).as_posix()
                     for p in server.root.rglob("*") if p.is_file())
    assert written == ["in/a.png", "out.veil/plans/a.png.veil.json", "secret.txt"]


def test_bad_edits_get_a_clear_message(server):
    cases = [({"frame": 0, "box": [50, 60, 10, 10]}, "x1 < x2"),
             ({"frame": 0, "box": [1, 2, 3]}, "four numbers"),
             ({"frame": 0, "box": ["NaN", 0, 10, 10]}, "finite"),
             ({"frame": 0, "box": [900, 900, 950, 950]}, "outside the picture"),
             ({"frame": 3, "box": [1, 1, 20, 20]}, "no frame 3")]
    plan = server.root / "out.veil" / "plans" / "a.png.veil.json"
    request(server, "GET", "/api/files/0")
    text = plan.read_text()
    for body, message in cases:
        res, payload = request(server, "POST", "/api/files/0/regions", body=body)
        assert res.status == 400
        assert message in json.loads(payload)["error"]
    res, payload = request(server, "DELETE", "/api/files/0/regions/0/7")
    assert res.status == 400 and "no region 7" in json.loads(payload)["error"]
    res, payload = request(server, "POST", "/api/files/0/regions", body=None)
    assert res.status == 400
    res, payload = request(server, "GET", "/api/files/0?frame=abc")
    assert res.status == 400 and "number" in json.loads(payload)["error"]
    assert plan.read_text() == text
