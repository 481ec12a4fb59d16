"""The image job and its stages: still plan, render, clean atomic write, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imagefactory as factory
from conftest import face_box, read_rgb, save
from veil.detections import Detections
from veil.errors import VeilError
from veil.jobs.image import anonymize_image_file, render_image_plan, shared_scanner
from veil.media.fingerprint import file_sha256
from veil.media.metadata import metadata_tags
from veil.plan.record import MediaInfo, Plan, Region
from veil.plan.still import image_media_info, plan_still, plan_whole_image
from veil.render.image import render_still
from veil.settings import MaskSettings, ScanSettings


def _face_changed(out: np.ndarray, ref: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = box
    return float(np.abs(out[y1:y2, x1:x2].astype(int) - ref[y1:y2, x1:x2].astype(int)).mean())


def test_plan_still_records_detections(tmp_path: Path) -> None:
    src = save(np.zeros((50, 80, 3), np.uint8), tmp_path / "x.png")
    media = image_media_info(src, 80, 50)
    assert media.sha256 == file_sha256(src) and media.kind == "image"
    dets = Detections([[10, 10, 30, 30], [70, 40, 95, 60]], [0.9, 0.5])
    plan = plan_still(dets, media, scan=ScanSettings(), mask=MaskSettings(), tool="t")
    regions = plan.frame(0).regions
    assert [r.provenance for r in regions] == ["detected", "detected"]
    assert regions[1].box == (70.0, 40.0, 80.0, 50.0)  # clipped to the picture
    assert plan.region_count() == 2 and plan.tool == "t"


def test_render_still_follows_the_plan(small_astronaut: np.ndarray) -> None:
    info = MediaInfo(name="a", sha256="", kind="image", width=256, height=256)
    plan = Plan(media=info, mask=MaskSettings(method="solid", shape="box", margin=0, pad_px=0))
    box = face_box(256)
    plan.add_region(0, Region(box=tuple(map(float, box))))  # type: ignore[arg-type]
    out = render_still(small_astronaut, plan)
    x1, y1, x2, y2 = box
    assert (out[y1:y2, x1:x2] == 0).all()
    assert (out[:, :x1] == small_astronaut[:, :x1]).all()
    plan.frame(0).regions[0].released = True
    assert (render_still(small_astronaut, plan) == small_astronaut).all()
    whole = plan_whole_image(info, scan=ScanSettings(), mask=MaskSettings(), note="scan failed")
    assert (render_still(small_astronaut, whole) == 0).all()
    with pytest.raises(VeilError, match="plan is for a 256x256"):
        render_still(small_astronaut[:100], plan)


def test_job_masks_and_saves_plan(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "x.png")
    result = anonymize_image_file(src, tmp_path / "out" / "x.png",
                                  plan_path=tmp_path / "plans" / "x.png.veil.json")
    assert result.ok, result.error
    assert result.output == tmp_path / "out" / "x.png" and result.faces == 1
    assert _face_changed(read_rgb(result.output), small_astronaut, face_box(256)) > 15
    plan = Plan.load(result.plan_path)  # type: ignore[arg-type]
    assert plan.media.sha256 == file_sha256(src) and plan.media.name == "x.png"
    assert plan.tool.startswith("veil")
    assert json.loads(result.plan_path.read_text())["format"] == "veil-plan/1"  # type: ignore[union-attr]


def test_sideways_phone_photo_upright_and_masked(tmp_path: Path,
                                                  small_astronaut: np.ndarray) -> None:
    upright = small_astronaut[:, 16:216]  # 256 tall, 200 wide: orientation shows
    src = factory.oriented_file(tmp_path / "phone.jpg", upright, 6)
    assert Image.open(src).size == (256, 200)  # stored on its side
    result = anonymize_image_file(src, tmp_path / "out" / "phone.jpg")
    assert result.ok and result.faces == 1
    out = read_rgb(result.output)  # type: ignore[arg-type]
    assert out.shape == upright.shape
    x1, y1, x2, y2 = face_box(256)
    assert _face_changed(out, upright, (x1 - 16, y1, x2 - 16, y2)) > 15
    assert metadata_tags(result.output) == []  # type: ignore[arg-type]


def test_every_kind_of_metadata_dropped(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = factory.jpeg_with_metadata(tmp_path / "meta.jpg", small_astronaut)
    before = metadata_tags(src)
    assert any("GPS" in t for t in before) and "XMP" in before
    result = anonymize_image_file(src, tmp_path / "out" / "meta.jpg")
    assert result.ok and metadata_tags(result.output) == []  # type: ignore[arg-type]
    assert factory.SECRET.encode() not in result.output.read_bytes()  # type: ignore[union-attr]


def test_keep_icc_keeps_only_the_profile(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = factory.jpeg_with_metadata(tmp_path / "meta.jpg", small_astronaut)
    kept = anonymize_image_file(src, tmp_path / "a" / "meta.jpg", keep_icc=True)
    dropped = anonymize_image_file(src, tmp_path / "b" / "meta.jpg")
    assert Image.open(kept.output).info.get("icc_profile")  # type: ignore[arg-type]
    assert not Image.open(dropped.output).info.get("icc_profile")  # type: ignore[arg-type]
    assert [t for t in metadata_tags(kept.output) if "ICC" not in t] == []  # type: ignore[arg-type]


def test_heic_written_as_jpeg(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = factory.heic_with_metadata(tmp_path / "IMG_1.heic", small_astronaut)
    result = anonymize_image_file(src, tmp_path / "out" / "IMG_1.jpg")
    assert result.ok, result.error
    assert result.output == tmp_path / "out" / "IMG_1.jpg"
    assert Image.open(result.output).format == "JPEG" and result.faces == 1
    assert metadata_tags(result.output) == []  # type: ignore[arg-type]


def test_misnamed_png_keeps_its_format_and_gets_a_true_name(tmp_path: Path,
                                                            small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "x.jpg", format="PNG")
    result = anonymize_image_file(src, tmp_path / "out" / "x.jpg")
    assert result.ok and result.output == tmp_path / "out" / "x.png"
    assert Image.open(result.output).format == "PNG"


def test_refuses_input_as_output_and_existing_output(tmp_path: Path,
                                                     small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "x.png")
    before = src.read_bytes()
    for overwrite in (False, True):
        result = anonymize_image_file(src, src, overwrite=overwrite)
        assert not result.ok and "overwrite the input" in (result.error or "")
    assert src.read_bytes() == before
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.png").write_bytes(b"old")
    result = anonymize_image_file(src, tmp_path / "out" / "x.png")
    assert not result.ok and (tmp_path / "out" / "x.png").read_bytes() == b"old"


class _BrokenScanner:
    settings = ScanSettings()

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def scan(self, frame: np.ndarray) -> Detections:
        raise self.exc


def test_scan_failure_writes_nothing(tmp_path: Path, small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "x.png")
    result = anonymize_image_file(src, tmp_path / "out" / "x.png",
                                  scanner=_BrokenScanner(VeilError("detector failed")))  # type: ignore[arg-type]
    assert result.error == "detector failed" and result.output is None
    with pytest.raises(RuntimeError):
        anonymize_image_file(src, tmp_path / "out" / "x.png",
                             scanner=_BrokenScanner(RuntimeError("bug")))  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_render_plan_again_and_refuse_other_file(tmp_path: Path,
                                                 small_astronaut: np.ndarray) -> None:
    src = save(small_astronaut, tmp_path / "x.png")
    first = anonymize_image_file(src, tmp_path / "out" / "x.png")
    plan = first.plan
    assert plan is not None
    plan.mask = MaskSettings(method="solid")
    again = render_image_plan(src, plan, tmp_path / "again" / "x.png")
    assert again.ok and again.faces == 1
    x1, y1, x2, y2 = face_box(256)
    assert (read_rgb(again.output)[(y1 + y2) // 2, (x1 + x2) // 2] == 0).all()  # type: ignore[arg-type]
    other = save(small_astronaut[:, ::-1].copy(), tmp_path / "y.png")
    refused = render_image_plan(other, plan, tmp_path / "third" / "y.png")
    assert not refused.ok and "different file" in (refused.error or "")


def test_one_scanner_per_setting() -> None:
    assert shared_scanner(ScanSettings()) is shared_scanner(ScanSettings())
    assert shared_scanner(ScanSettings(threshold=0.5)) is not shared_scanner(ScanSettings())


@pytest.mark.shared
def test_shared_gps_photos_come_out_clean(tmp_path: Path, shared_data: Path) -> None:
    folder = shared_data / "exif" / "gps"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    for src in sorted(folder.glob("*.jpg"))[:3]:
        result = anonymize_image_file(src, tmp_path / src.name)
        assert result.ok, (src.name, result.error)
        assert metadata_tags(result.output) == [], src.name  # type: ignore[arg-type]


# --------------------------------------------------------------------------- issue 10 pictures


def _anim_frames(small_astronaut: np.ndarray, n: int = 4) -> list[np.ndarray]:
    """The astronaut moving right 4 px a frame: a face in every frame."""
    return [np.roll(small_astronaut, 4 * i, axis=1) for i in range(n)]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_masked_in_every_frame(tmp_path: Path, small_astronaut: np.ndarray,
                                         fmt: str) -> None:
    from veil.media.images import read_animation

    frames = _anim_frames(small_astronaut)
    src = tmp_path / f"anim.{fmt.lower()}"
    ims = [Image.fromarray(f) for f in frames]
    extra = {"comment": b"Jane Doe"} if fmt == "GIF" else {"exif": factory.exif_block()}
    ims[0].save(src, fmt, save_all=True, append_images=ims[1:], duration=[80, 90, 100, 110],
                loop=2, **extra)
    assert metadata_tags(src)
    result = anonymize_image_file(src, tmp_path / "out" / src.name,
                                  plan_path=tmp_path / "anim.veil.json")
    assert result.ok, result.error
    assert result.output == tmp_path / "out" / src.name and result.frames == 4
    assert result.faces >= 4 and result.plan is not None
    assert result.plan.media.frame_count == 4 and result.plan.media.kind == "image"
    out = read_animation(result.output)  # type: ignore[arg-type]
    assert out.format == fmt and out.durations == [80, 90, 100, 110] and out.loop == 2
    x1, y1, x2, y2 = face_box(256)
    for i, (got, want) in enumerate(zip(out.frames, frames, strict=True)):
        assert _face_changed(got, want, (x1 + 4 * i, y1, x2 + 4 * i, y2)) > 15, i
        assert float(np.abs(got[:, :40].astype(int) - want[:, :40]).mean()) < 8, i
    assert metadata_tags(result.output) == []  # type: ignore[arg-type]
    assert b"Jane Doe" not in result.output.read_bytes()  # type: ignore[union-attr]
    # a saved plan renders every frame again (the mask's noise is random by design)
    plan = Plan.load(tmp_path / "anim.veil.json")
    assert plan.media.frame_count == 4
    rendered = render_image_plan(src, plan, tmp_path / "render" / src.name)
    assert rendered.ok and rendered.frames == 4 and rendered.faces == result.faces
    for i, got in enumerate(read_animation(rendered.output).frames):  # type: ignore[arg-type]
        assert _face_changed(got, frames[i], (x1 + 4 * i, y1, x2 + 4 * i, y2)) > 15, i


def test_animation_frame_the_detector_misses_is_still_masked(
        tmp_path: Path, small_astronaut: np.ndarray) -> None:
    """The tracker fills a frame without a detection between two with one, as in video."""
    frames = _anim_frames(small_astronaut, 5)
    src = tmp_path / "a.gif"
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(src, save_all=True, append_images=ims[1:], duration=100, loop=0)
    real = shared_scanner(ScanSettings())

    class _Misses:
        settings = real.settings
        calls = 0

        def scan(self, frame: np.ndarray) -> Detections:
            _Misses.calls += 1
            return Detections.empty() if _Misses.calls == 3 else real.scan(frame)

    result = anonymize_image_file(src, tmp_path / "out.gif", scanner=_Misses())  # type: ignore[arg-type]
    assert result.ok, result.error
    assert result.plan is not None and result.plan.frame(2).active_regions()


def test_default_converts_colours_to_srgb_keep_icc_keeps_them(
        tmp_path: Path, small_astronaut: np.ndarray) -> None:
    from veil.media.images import read_image, to_srgb

    icc = factory.matrix_icc(factory.DISPLAY_P3, 2.2, "Test Display P3")
    src = save(small_astronaut, tmp_path / "p3.png", icc_profile=icc)
    default = anonymize_image_file(src, tmp_path / "a" / "p3.png")
    kept = anonymize_image_file(src, tmp_path / "b" / "p3.png", keep_icc=True)
    assert default.ok and kept.ok
    assert not Image.open(default.output).info.get("icc_profile")  # type: ignore[arg-type]
    assert Image.open(kept.output).info.get("icc_profile") == icc  # type: ignore[arg-type]
    expected = to_srgb(read_image(src)).pixels
    x1, y1, x2, y2 = face_box(256)
    outside = np.ones(expected.shape[:2], bool)
    outside[max(0, y1 - 40):y2 + 40, max(0, x1 - 40):x2 + 40] = False
    got = read_rgb(default.output)  # type: ignore[arg-type]
    assert np.array_equal(got[outside], expected[outside])
    assert np.array_equal(read_rgb(kept.output)[outside], small_astronaut[outside])  # type: ignore[arg-type]
    assert np.abs(expected.astype(int) - small_astronaut).max() > 8  # the conversion matters


def test_heif_with_two_images_keeps_primary_and_says_so(tmp_path: Path,
                                                        small_astronaut: np.ndarray) -> None:
    src = tmp_path / "burst.heic"
    ims = [Image.fromarray(small_astronaut), Image.fromarray(small_astronaut[::-1].copy())]
    ims[0].save(src, save_all=True, append_images=ims[1:], quality=90)
    result = anonymize_image_file(src, tmp_path / "out" / "burst.jpg")
    assert result.ok, result.error
    assert result.output == tmp_path / "out" / "burst.jpg" and result.faces == 1
    assert result.extra["notes"] == [
        "the HEIF file holds 2 images; only its primary image was kept (the other 1 were dropped)"
    ]
    assert metadata_tags(result.output) == []  # type: ignore[arg-type]


def test_motion_photo_video_dropped_and_said(tmp_path: Path,
                                             small_astronaut: np.ndarray) -> None:
    src = factory.motion_photo_jpeg(tmp_path / "motion.jpg", small_astronaut)
    result = anonymize_image_file(src, tmp_path / "out" / "motion.jpg")
    assert result.ok and result.faces == 1
    assert result.extra["notes"] == [
        "motion photo: its video part was dropped (only the still picture is kept)"
    ]
    data = result.output.read_bytes()  # type: ignore[union-attr]
    assert b"ftyp" not in data and b"VeilTestPhone" not in data
    assert metadata_tags(result.output) == []  # type: ignore[arg-type]


def test_new_suffixes_are_routed_as_images() -> None:
    from veil.jobs.batch import media_kind, output_name

    for name in ("a.gif", "a.AVIF", "a.webp"):
        assert media_kind(Path(name)) == "image"
    assert output_name(Path("x/a.avif"), "image") == "a.avif"
