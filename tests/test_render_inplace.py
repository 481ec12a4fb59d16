"""Masking a decoded frame in place (render/inplace.py): only the windows the masks touch
go to RGB and back; every other pixel keeps its decoded value, and the masked pixels are
the ones :func:`mask_regions` gives on the whole frame (within the chroma's rounding)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from veil.media.video import VideoReader
from veil.plan.record import MediaInfo, Plan, Region
from veil.render.inplace import _Frames, mask_frame_yuv, yuv_planes
from veil.render.masks import mask_regions, mask_tiles, mask_windows, paint_tiles
from veil.render.video import render_video
from veil.settings import MaskSettings
from verify_media import write_video

W, H, N = 192, 144, 4
BOXES = [(20.4, 30.2, 70.9, 95.5), (50.0, 40.0, 62.0, 60.0), (150.0, -10.0, 200.0, 40.0),
         (0.0, 110.0, 30.0, 150.0), (120.5, 90.0, 124.5, 96.0)]


def texture(i: int = 0) -> np.ndarray:
    """Colourful detail everywhere (chroma changes from pixel to pixel)."""
    rng = np.random.default_rng(7 + i)
    base = rng.integers(30, 226, size=(H // 4, W // 4, 3), dtype=np.uint8)
    img = np.kron(base, np.ones((4, 4, 1), np.uint8)).astype(np.int16)
    img += rng.integers(-25, 26, size=img.shape, dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inplace") / "clip.mp4"
    return write_video(path, [texture(i) for i in range(N)], pix_fmt="yuv420p",
                       options={"crf": "12", "preset": "ultrafast"})


def first_frame(path: Path) -> tuple[object, object]:
    with VideoReader(path) as r:
        item = next(iter(r.frames()))
        return r.info.colour, item


def plan_for(path: Path | str, mask: MaskSettings, boxes=BOXES, methods=None) -> Plan:
    plan = Plan(MediaInfo("clip.mp4", "c" * 64, "video", W, H, frame_count=N, fps=10.0),
                mask=mask)
    for f in range(N):
        for k, b in enumerate(boxes):
            plan.add_region(f, Region(b, method=methods[k] if methods else None))
    return plan


def window_area(boxes, mask: MaskSettings) -> np.ndarray:
    """The mask windows, grown to whole chroma samples."""
    win = np.zeros((H, W), bool)
    for (ys, xs), _ in mask_windows((H, W), np.asarray(boxes, np.float32), mask):
        win[ys.start // 2 * 2:-(-ys.stop // 2) * 2, xs.start // 2 * 2:-(-xs.stop // 2) * 2] = True
    return win


@pytest.mark.parametrize("given_rng", [False, True])
def test_tiles_paint_exactly_what_mask_regions_paints(given_rng: bool) -> None:
    img = texture()
    boxes = np.asarray(BOXES, np.float32)
    methods = [None, "solid", "pixelate", None, "blur"]
    mask = MaskSettings()
    tiles = mask_tiles((H, W), boxes, mask, methods=methods, margin=3)
    rects = np.zeros((H, W), np.int32)
    for t in tiles:
        assert t.x1 % 2 == t.y1 % 2 == t.x2 % 2 == t.y2 % 2 == 0
        rects[t.y1:t.y2, t.x1:t.x2] += 1
    assert rects.max() == 1  # disjoint
    cuts = [img[t.y1:t.y2, t.x1:t.x2].copy() for t in tiles]

    def gen() -> np.random.Generator | None:
        return np.random.default_rng(3) if given_rng else None

    covered = paint_tiles(cuts, tiles, (H, W), boxes, mask, gen(), methods=methods,
                          seed="s" * 64, frame_index=5)
    out = img.copy()
    for t, cut, cov in zip(tiles, cuts, covered, strict=True):
        out[t.y1:t.y2, t.x1:t.x2][cov] = cut[cov]
    want = mask_regions(img, boxes, mask, gen(), methods=methods, seed="s" * 64,
                        frame_index=5)
    assert np.array_equal(out, want)


def test_a_window_reads_as_the_whole_frame_reads(clip: Path) -> None:
    """A window converted in a frame of its own gives the whole frame's RGB (it carries
    the decoded frame's chroma siting), away from its edges."""
    colour, item = first_frame(clip)
    base = colour.passthrough(item.frame)
    whole = colour.to_rgb(base)
    planes = yuv_planes(base)
    y1, y2, x1, x2 = 20, 100, 30, 150
    part = _Frames(base).yuv([planes[0][y1:y2, x1:x2], planes[1][y1 // 2:y2 // 2, x1 // 2:x2 // 2],
                              planes[2][y1 // 2:y2 // 2, x1 // 2:x2 // 2]])
    rgb = colour.to_rgb(part, threads=1)
    assert np.array_equal(rgb[4:-4, 4:-4], whole[y1 + 4:y2 - 4, x1 + 4:x2 - 4])


@pytest.mark.parametrize("method", ["blur", "pixelate", "solid"])
def test_only_the_masked_windows_change(clip: Path, method: str) -> None:
    colour, item = first_frame(clip)
    base = colour.passthrough(item.frame)
    before = [p.copy() for p in yuv_planes(base)]
    mask = MaskSettings(method=method, color=(200, 30, 60))
    plan = plan_for(clip, mask)
    out = mask_frame_yuv(base, plan, 0, colour)
    assert all(np.array_equal(a, b) for a, b in zip(before, yuv_planes(base), strict=True))
    win = window_area(BOXES, mask)
    new = yuv_planes(out)
    assert np.array_equal(new[0][~win], before[0][~win])
    for c in (1, 2):
        assert np.array_equal(new[c][~win[::2, ::2]], before[c][~win[::2, ::2]])
    # inside the masks: what the whole-frame path gives, within the chroma's rounding
    boxes = np.asarray(BOXES, np.float32)
    cov = np.zeros((H, W), bool)
    for (ys, xs), sel in mask_windows((H, W), boxes, mask):
        cov[ys, xs] |= sel
    whole = colour.to_rgb(colour.from_rgb(
        mask_regions(colour.to_rgb(base), boxes, mask, seed="c" * 64, frame_index=0)))
    got = colour.to_rgb(_Frames(base).yuv(yuv_planes(out)))  # read as decoded frames are
    diff = np.abs(got.astype(int) - whole.astype(int)).max(axis=2)
    # the chroma of a block the mask's edge crosses mixes masked and unmasked pixels, in
    # one path after a round trip of the unmasked ones, in the other not
    inner = cv2.erode(cov.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert diff[cov].mean() < 2.5
    assert diff[inner].mean() < 1.5 and np.percentile(diff[inner], 99) <= 8


def test_a_solid_fill_stays_the_fill_colour(clip: Path) -> None:
    colour, item = first_frame(clip)
    base = colour.passthrough(item.frame)
    fill = (200, 30, 60)
    mask = MaskSettings(method="solid", color=fill)
    out = colour.to_rgb(_Frames(base).yuv(yuv_planes(
        mask_frame_yuv(base, plan_for(clip, mask), 0, colour))))
    checked = 0
    for (ys, xs), sel in mask_windows((H, W), np.asarray(BOXES, np.float32), mask):
        inner = np.zeros((H, W), bool)
        inner[ys, xs] = sel
        # pixels two or more away from the mask's edge (the chroma of a block the edge
        # crosses is a mix, and reading interpolates the chroma of the next blocks)
        full = cv2.erode(inner.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        if full.any():
            err = np.abs(out[full].astype(int) - np.asarray(fill)).max()
            assert err <= 4, err  # (the whole-frame path: up to 6 here)
            checked += int(full.sum())
    assert checked > 1000


def decoded(path: Path) -> list[list[np.ndarray]]:
    with av.open(str(path)) as c:
        return [[p.copy() for p in yuv_planes(f.reformat(format="yuv420p"))]
                for f in c.decode(video=0)]


def test_a_lossless_render_keeps_every_unmasked_pixel(clip: Path, tmp_path: Path) -> None:
    """Rendered losslessly (CRF 0), everything outside the mask windows is the decoded
    input, luma and chroma: no colour round trip touches it. (The whole-frame path moved
    about a tenth of the chroma samples there.)"""
    mask = MaskSettings(method="blur")
    plan = plan_for(clip, mask)
    out = tmp_path / "out.mp4"
    stats = render_video(clip, plan, out, crf=0, cap=None)
    assert stats.masked_frames == N
    win = window_area(BOXES, mask)
    ins, outs = decoded(clip), decoded(out)
    assert len(ins) == len(outs) == N
    for a, b in zip(ins, outs, strict=True):
        assert np.array_equal(a[0][~win], b[0][~win])
        for c in (1, 2):
            assert np.array_equal(a[c][~win[::2, ::2]], b[c][~win[::2, ::2]])
        assert not np.array_equal(a[0][win], b[0][win])  # and the masks are there


def test_the_same_plan_gives_the_same_bytes_in_place(clip: Path, tmp_path: Path) -> None:
    plan = plan_for(clip, MaskSettings(method="blur"))
    outs = []
    for name in ("a.mp4", "b.mp4"):
        render_video(clip, plan, tmp_path / name)
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]


def test_the_render_converts_with_one_swscale_thread(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Every colour conversion of a render passes ``threads=1`` (swscale's automatic
    threads are a suspect of a rare determinism flake): the in-place path, a 4:4:4 clip's
    passthrough, and the whole-frame path of a rotated clip."""
    from veil.media.colour import Colour

    seen: list[object] = []
    for name in ("to_rgb", "from_rgb", "passthrough", "yuv_of_rgb_frame"):
        real = getattr(Colour, name)

        def spy(self, frame, threads=None, _real=real):  # noqa: ANN001, ANN202
            seen.append(threads)
            return _real(self, frame, threads=threads)

        monkeypatch.setattr(Colour, name, spy)
    src = write_video(tmp_path / "c444.mp4", [texture(i) for i in range(N)])  # yuv444p
    render_video(src, plan_for(src, MaskSettings()), tmp_path / "o.mp4")
    rotated = tmp_path / "rot.mp4"
    with av.open(str(rotated), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.set_display_matrix([0, 65536, 0, 65536, 0, 0, 0, 0, 1 << 30])  # a transpose
        for i in range(N):
            f = av.VideoFrame.from_ndarray(texture(i), format="rgb24")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    plan = Plan(MediaInfo("rot.mp4", "c" * 64, "video", H, W, frame_count=N, fps=10.0))
    for f in range(N):
        plan.add_region(f, Region((10, 10, 60, 70)))
    render_video(rotated, plan, tmp_path / "r.mp4")
    assert len(seen) > 3 * N and set(seen) == {1}
