"""veil: find every face in photos and videos, mask it irreversibly, strip identifying metadata.

Python API (the command line ``veil`` is a thin shell around the same functions)::

    import veil
    masked, faces = veil.anonymize_image(rgb_array)          # numpy in, numpy out
    result = veil.anonymize_file("photo.jpg", "safe/photo.jpg")   # verified by default
    result = veil.render_plan("plans/photo.jpg.veil.json", "photo.jpg", "safe2/photo.jpg")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("veil")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from veil.api import anonymize_file, anonymize_image, render_plan  # noqa: E402
from veil.detections import Detections  # noqa: E402
from veil.jobs.result import FileResult, Verdict  # noqa: E402
from veil.plan.record import Plan  # noqa: E402
from veil.plan.track import TrackSettings  # noqa: E402
from veil.settings import MaskSettings, ScanSettings  # noqa: E402

__all__ = [
    "Detections",
    "FileResult",
    "MaskSettings",
    "Plan",
    "ScanSettings",
    "TrackSettings",
    "Verdict",
    "__version__",
    "anonymize_file",
    "anonymize_image",
    "render_plan",
]
