"""The image job: read → scan → plan → render → write, for one still image file.

Per-file problems (unreadable, corrupt, unsupported, unsafe output path) never
raise: they come back as a :class:`FileResult` whose ``error`` is one line, and
nothing is written under the output name.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from veil.errors import VeilError, error_text
from veil.jobs.result import FileResult
from veil.media.fingerprint import file_sha256
from veil.plan.record import Plan
from veil.plan.still import image_media_info, plan_still
from veil.plan.track import TrackSettings
from veil.render.image import render_still
from veil.scan.scanner import Scanner
from veil.settings import MaskSettings, ScanSettings

if TYPE_CHECKING:
    from veil.media.images import LoadedImage
    from veil.plan.record import MediaInfo

_SCANNERS: dict[ScanSettings, Scanner] = {}


def shared_scanner(settings: ScanSettings | None = None) -> Scanner:
    """The process-wide :class:`Scanner` for ``settings`` (built once, then reused).

    Loading the detector costs far more than one small image, so every job in a
    process shares one scanner per distinct setting.
    """
    settings = settings or ScanSettings()
    scanner = _SCANNERS.get(settings)
    if scanner is None:
        scanner = _SCANNERS[settings] = Scanner(settings)
    return scanner


def tool_name() -> str:
    """``"veil <version>"`` (:data:`veil.__version__`), recorded in plans and reports."""
    from veil import __version__

    return f"veil {__version__}"


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file (existing or not)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_path(src: Path, dst: Path, *, overwrite: bool) -> None:
    """Refuse an output that is the input itself, or that exists without ``overwrite``."""
    if same_file(src, dst):
        raise VeilError("the output would overwrite the input; choose another output path")
    if dst.exists() and not overwrite:
        raise VeilError(f"output {dst} exists (use --overwrite to replace outputs)")
    if dst.exists() and not dst.is_file():
        raise VeilError(f"output {dst} exists and is not a file")


def _colours(loaded: LoadedImage, keep_icc: bool) -> LoadedImage:
    """Without ``keep_icc``: the pixels converted to sRGB (the profile is dropped)."""
    from veil.media.images import to_srgb

    return loaded if keep_icc else to_srgb(loaded)


def _write_rendered(loaded: LoadedImage, pixels: np.ndarray, src: Path, dst: Path, *,
                    keep_icc: bool, quality: int, overwrite: bool) -> Path:
    """Write the masked pixels; return the path written.

    The suffix follows the format written (HEIC → ``.jpg``; a PNG misnamed ``.jpg`` →
    ``.png``), so a file's name never lies about its content.
    """
    from veil.media.images import output_suffix, write_image

    suffix = output_suffix(dst, loaded.format)
    if suffix != dst.suffix:
        dst = dst.with_suffix(suffix)
        check_output_path(src, dst, overwrite=overwrite)
    write_image(dst, pixels, loaded.format, alpha=loaded.alpha,
                icc_profile=loaded.icc_profile if keep_icc else None, quality=quality,
                lossless=loaded.lossless)
    return dst


def read_still(src: Path, dst: Path, *, keep_icc: bool, overwrite: bool
               ) -> tuple[LoadedImage, MediaInfo]:
    """The first step of a still photo's job: check that ``dst`` may be written, read
    ``src`` upright and in sRGB (unless ``keep_icc``), and describe it for its plan."""
    from veil.media.images import read_image

    check_output_path(src, dst, overwrite=overwrite)
    loaded = _colours(read_image(src), keep_icc)
    h, w = loaded.pixels.shape[:2]
    return loaded, image_media_info(src, w, h, file_sha256(src))


def write_still(result: FileResult, loaded: LoadedImage, plan: Plan, dst: Path, *,
                rng: np.random.Generator | None, keep_icc: bool, quality: int,
                overwrite: bool, plan_path: str | os.PathLike[str] | None) -> None:
    """The last step of a still photo's job: mask ``loaded`` as ``plan`` says, write it
    to ``dst`` and, with ``plan_path``, save the plan there; ``result`` records both."""
    rendered = render_still(loaded.pixels, plan, rng)
    result.output = _write_rendered(loaded, rendered, result.source, dst, keep_icc=keep_icc,
                                    quality=quality, overwrite=overwrite)
    result.plan = plan
    result.faces = plan.region_count()
    if plan_path is not None:
        plan.save(plan_path)
        result.plan_path = Path(plan_path)


def anonymize_image_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    scan: ScanSettings | None = None,
    mask: MaskSettings | None = None,
    scanner: Scanner | None = None,
    plan_path: str | os.PathLike[str] | None = None,
    keep_icc: bool = False,
    quality: int = 95,
    overwrite: bool = False,
    rng: np.random.Generator | None = None,
    track: TrackSettings | None = None,
) -> FileResult:
    """Mask every face of the image ``src`` and write a clean copy to ``dst``.

    The picture is read upright (EXIF orientation applied), scanned, planned and
    rendered; ``dst`` is written atomically with no metadata. Colours are converted
    from the source's ICC profile to sRGB and the profile dropped; with ``keep_icc``
    the pixels and profile are kept as they are. An animated GIF or WebP is masked frame
    by frame (:mod:`veil.jobs.animated`; ``track`` says how its faces are followed).
    What of the source the output does not carry
    (further images of a HEIF file, a motion photo's video) is listed, one sentence
    each, in ``result.extra["notes"]``. With ``plan_path`` the plan is saved there as JSON.
    ``dst`` must not be ``src`` and must not exist unless ``overwrite``.

    Returns a :class:`FileResult`; on failure its ``error`` says why, in one line,
    and nothing is written.
    """
    from veil.media.images import frame_count

    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    scan = scan or (scanner.settings if scanner is not None else ScanSettings())
    mask = mask or MaskSettings()
    if frame_count(src) > 1:
        from veil.jobs.animated import anonymize_animation

        return anonymize_animation(src, dst, scanner=scanner or shared_scanner(scan),
                                   scan=scan, mask=mask,
                                   plan_path=None if plan_path is None else Path(plan_path),
                                   quality=quality, overwrite=overwrite, tool=tool_name(),
                                   rng=rng, track=track)
    result = FileResult(source=src, kind="image")
    try:
        loaded, media = read_still(src, dst, keep_icc=keep_icc, overwrite=overwrite)
        if loaded.notes:
            result.extra["notes"] = list(loaded.notes)
        detections = (scanner or shared_scanner(scan)).scan(loaded.pixels)
        plan = plan_still(detections, media, scan=scan, mask=mask, tool=tool_name())
        write_still(result, loaded, plan, dst, rng=rng, keep_icc=keep_icc, quality=quality,
                    overwrite=overwrite, plan_path=plan_path)
    except (VeilError, OSError, ValueError) as exc:
        result.error = error_text(exc)
    result.seconds = time.perf_counter() - t0
    return result


def render_image_plan(
    src: str | os.PathLike[str],
    plan: Plan,
    dst: str | os.PathLike[str],
    *,
    keep_icc: bool = False,
    quality: int = 95,
    overwrite: bool = False,
    rng: np.random.Generator | None = None,
) -> FileResult:
    """Render a saved (possibly edited) plan onto the original image ``src``, no scanning.

    The plan must have been made for this very file (same SHA-256); otherwise the
    result carries an error and nothing is written.
    """
    from veil.media.images import read_image

    if plan.media.frame_count > 1:
        from veil.jobs.animated import render_animation_plan

        return render_animation_plan(Path(src), plan, Path(dst), quality=quality,
                                     overwrite=overwrite, rng=rng)
    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    result = FileResult(source=src, kind="image", plan=plan)
    try:
        check_output_path(src, dst, overwrite=overwrite)
        plan.require_source(src, "image")
        loaded = _colours(read_image(src), keep_icc)
        if loaded.notes:
            result.extra["notes"] = list(loaded.notes)
        rendered = render_still(loaded.pixels, plan, rng)
        result.output = _write_rendered(loaded, rendered, src, dst, keep_icc=keep_icc,
                                        quality=quality, overwrite=overwrite)
        result.faces = len(plan.frame(0).active_regions())
    except (VeilError, OSError, ValueError) as exc:
        result.error = error_text(exc)
    result.seconds = time.perf_counter() - t0
    return result
