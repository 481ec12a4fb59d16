"""Helpers of the review page's tests: a served session and Debian's chromium via playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from veil.review.server import ReviewServer
from veil.review.state import Session

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """The system chromium (``VEIL_CHROMIUM`` overrides), or None."""
    for candidate in (os.environ.get("VEIL_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def need_browser() -> str:
    """Skip (with the reason) unless playwright and a system chromium are there."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                        "(pip install -e '.[dev]')")
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium found: run `make browser` as root (apt-get install chromium) "
                    "or set VEIL_CHROMIUM")
    return path


@contextlib.contextmanager
def served(session: Session) -> Iterator[ReviewServer]:
    server = ReviewServer(session)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator[object]:
    """A playwright page in the system chromium (headless, no network beyond loopback)."""
    path = need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            # bypass_csp: playwright evaluates its waits as strings, which the page's policy forbids
            context = browser.new_context(viewport={"width": width, "height": height},
                                          bypass_csp=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.errors = errors  # type: ignore[attr-defined]
            yield page
        finally:
            browser.close()


def screenshot(page: object, name: str) -> None:
    """Save a screenshot into ``$VEIL_SCREENSHOTS`` when set (the README's pictures)."""
    folder = os.environ.get("VEIL_SCREENSHOTS")
    if folder:
        import io

        from PIL import Image

        Path(folder).mkdir(parents=True, exist_ok=True)
        shot = Image.open(io.BytesIO(page.screenshot()))  # type: ignore[attr-defined]
        small = shot.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        small.save(Path(folder) / name, optimize=True)  # a palette PNG: under 200 KB in the repo


def drag(page: object, W: int, H: int, a: tuple[float, float], b: tuple[float, float]) -> None:
    """Drag the mouse on the picture from picture point ``a`` to ``b`` (picture pixels)."""
    bb = page.locator("#overlay").bounding_box()  # type: ignore[attr-defined]
    sx, sy = bb["width"] / W, bb["height"] / H

    def at(p: tuple[float, float]) -> tuple[float, float]:
        return bb["x"] + p[0] * sx, bb["y"] + p[1] * sy

    mouse = page.mouse  # type: ignore[attr-defined]
    mouse.move(*at(a))
    mouse.down()
    mouse.move(*at(((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)), steps=3)
    mouse.move(*at(b), steps=3)
    mouse.up()
