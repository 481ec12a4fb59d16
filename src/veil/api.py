"""The Python API: the same stages as the command line, for arrays and single files."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from veil.detections import Detections
from veil.jobs.image import shared_scanner
from veil.jobs.result import FileResult
from veil.media.kinds import media_kind
from veil.plan.record import MediaInfo, Plan
from veil.plan.still import plan_still
from veil.plan.track import TrackSettings
from veil.render.image import render_still
from veil.settings import MaskMethod, MaskSettings, MaskShape, ScanSettings


def _settings(method: MaskMethod | None, shape: MaskShape | None, margin: float | None,
              threshold: float | None, scan: ScanSettings | None,
              mask: MaskSettings | None) -> tuple[ScanSettings, MaskSettings]:
    scan = scan or ScanSettings()
    if threshold is not None:
        scan = dataclasses.replace(scan, threshold=float(threshold))
    return scan, _mask(method, shape, margin, mask or MaskSettings())


def _mask(method: MaskMethod | None, shape: MaskShape | None, margin: float | None,
          mask: MaskSettings) -> MaskSettings:
    changes = {k: v for k, v in (("method", method), ("shape", shape), ("margin", margin))
               if v is not None}
    return dataclasses.replace(mask, **changes) if changes else mask


def anonymize_image(
    image: np.ndarray,
    *,
    method: MaskMethod | None = None,
    shape: MaskShape | None = None,
    margin: float | None = None,
    threshold: float | None = None,
    scan: ScanSettings | None = None,
    mask: MaskSettings | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, Detections]:
    """Mask every face in an RGB image array; return ``(masked copy, detections)``.

    ``image`` is ``(H, W, 3)`` ``uint8`` RGB, upright (apply EXIF orientation first if
    it came from a file; :func:`anonymize_file` does that for you). It is never
    modified. ``method`` (``"solid"``, ``"pixelate"``, ``"blur"``), ``shape``
    (``"ellipse"``, ``"box"``), ``margin`` and ``threshold`` override the defaults of
    :class:`MaskSettings` / :class:`ScanSettings` (or pass whole settings objects).
    The detections are the face boxes found (``x1, y1, x2, y2`` pixels) with scores.

    Example::

        import numpy as np, veil
        from PIL import Image
        rgb = np.asarray(Image.open("group.png").convert("RGB"))
        masked, faces = veil.anonymize_image(rgb, method="pixelate")
        print(len(faces), "faces"); Image.fromarray(masked).save("group-safe.png")
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {arr.dtype} "
                         f"{arr.shape}")
    scan_s, mask_s = _settings(method, shape, margin, threshold, scan, mask)
    frame = np.ascontiguousarray(arr)
    detections = shared_scanner(scan_s).scan(frame)
    h, w = frame.shape[:2]
    media = MediaInfo(name="<array>", sha256="", kind="image", width=w, height=h)
    plan = plan_still(detections, media, scan=scan_s, mask=mask_s)
    return render_still(frame, plan, rng), detections


def anonymize_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    method: MaskMethod | None = None,
    shape: MaskShape | None = None,
    margin: float | None = None,
    threshold: float | None = None,
    keep_icc: bool = False,
    quality: int = 95,
    overwrite: bool = False,
    plan_path: str | os.PathLike[str] | None = None,
    audio: bool = True,
    crf: int = 20,
    verify: bool = True,
    scan: ScanSettings | None = None,
    mask: MaskSettings | None = None,
    track: TrackSettings | None = None,
) -> FileResult:
    """Mask every face in the image or video file ``src`` and write a clean copy to ``dst``.

    Images are read upright (EXIF orientation applied; HEIC too), written in their own
    format (use a ``.jpg`` ``dst`` for HEIC) with no metadata; the colour profile only
    with ``keep_icc``. Videos (when video support is installed) keep their sound
    unless ``audio=False``. ``dst`` is written atomically, never over ``src``, and not
    over an existing file unless ``overwrite``. With ``plan_path`` the plan is saved
    as JSON (videos always save one, by default beside ``dst``). ``result.faces``
    counts faces (nested and duplicate boxes are one face; a video's tracks),
    ``result.regions`` the regions masked (per frame in a video). ``scan``, ``mask`` and
    ``track`` take whole settings objects (``threshold``, ``method``, ``shape`` and
    ``margin`` override single fields); all are recorded in the plan.

    The output is verified, as the command line does (``verify=False`` skips it):
    written under a hidden name, checked for faces left visible, masked faces that can
    be recognised and metadata, repaired when a face is found, and given the name
    ``dst`` only once it passed; one that still fails is written as
    ``NAME.verification-failed.EXT`` (``result.output`` says where).
    ``result.verification`` is the :class:`~veil.jobs.result.Verdict` (``passed``,
    ``checks``, ``reasons``, ``verification``, ``repair``), ``None`` when not verified.
    Notes about what the output does not carry are in ``result.extra["notes"]``.

    Never raises for a bad input: check ``result.ok`` / ``result.error`` (the output was
    written) and ``result.verification.passed``.

    Example::

        import veil
        result = veil.anonymize_file("photo.jpg", "safe/photo.jpg", method="solid")
        if not result.ok:
            print("failed:", result.error)
        elif not result.verification.passed:
            print("not safe:", result.verification.reasons)
        else:
            print(result.faces, "faces masked in", result.output)
    """
    from veil.jobs.pipeline import JobOptions, Task, run

    src_p, dst_p = Path(src), Path(dst)
    scan_s, mask_s = _settings(method, shape, margin, threshold, scan, mask)
    options = JobOptions(scan=scan_s, mask=mask_s, keep_icc=keep_icc, quality=quality,
                         overwrite=overwrite, audio=audio, crf=crf, verify=verify,
                         track=track or TrackSettings())
    plan = Path(plan_path) if plan_path is not None else None
    task = Task(src_p, dst_p, media_kind(src_p) or "image", plan)
    return _api_wording(run(task, options).result)


def render_plan(
    plan: Plan | str | os.PathLike[str],
    original: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    method: MaskMethod | None = None,
    shape: MaskShape | None = None,
    margin: float | None = None,
    keep_icc: bool = False,
    quality: int = 95,
    overwrite: bool = False,
    audio: bool = True,
    crf: int = 20,
    verify: bool = True,
) -> FileResult:
    """Render a plan (a :class:`~veil.plan.record.Plan` or the path of a saved one,
    possibly edited) onto its ``original`` file and write ``dst``, without scanning: what
    ``veil render`` does, through the same pipeline.

    The plan must have been made for this very file (its SHA-256 is checked; else
    ``result.error`` says so and nothing is written). ``method``, ``shape`` and
    ``margin`` replace the plan's mask settings. Verified by default, as
    :func:`anonymize_file`: a face verification finds that the plan does not hold is
    masked all the same and said in ``result.extra["warnings"]`` (mark a region
    ``"released": true`` to leave a face visible on purpose). A given ``Plan`` object is
    changed in place by such a repair; a plan file is never changed.
    """
    from veil.jobs.pipeline import JobOptions, Task, run

    src_p, dst_p = Path(original), Path(dst)
    if not isinstance(plan, Plan):
        try:
            plan = Plan.load(plan)
        except (OSError, ValueError, KeyError) as exc:
            return FileResult(source=src_p, error=f"cannot read the plan: {exc}")
    plan.mask = _mask(method, shape, margin, plan.mask)
    options = JobOptions(mask=plan.mask, keep_icc=keep_icc, quality=quality,
                         overwrite=overwrite, audio=audio, crf=crf, verify=verify)
    task = Task(src_p, dst_p, "video" if plan.media.kind == "video" else "image", plan=plan)
    return _api_wording(run(task, options).result)


def _api_wording(result: FileResult) -> FileResult:
    """Errors name the keyword argument (``overwrite=True``), not the command line's
    ``--overwrite``: a Python caller has no option to add."""
    if result.error:
        result.error = result.error.replace("use --overwrite", "pass overwrite=True") \
            .replace("--overwrite", "overwrite=True")
    return result
