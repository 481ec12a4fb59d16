"""veil: find every face in photos and videos, mask it irreversibly, strip identifying metadata.

Python API (the command line ``veil`` is a thin shell around the same functions)::

    import veil
    masked, faces = veil.anonymize_image(rgb_array)          # numpy in, numpy out
    result = veil.anonymize_file("photo.jpg", "safe/photo.jpg")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("veil")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from veil.api import anonymize_file, anonymize_image  # noqa: E402
from veil.detections import Detections  # noqa: E402
from veil.jobs.result import FileResult  # noqa: E402
from veil.settings import MaskSettings, ScanSettings  # noqa: E402

__all__ = [
    "Detections",
    "FileResult",
    "MaskSettings",
    "ScanSettings",
    "__version__",
    "anonymize_file",
    "anonymize_image",
]
