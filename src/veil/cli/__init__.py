"""The ``veil`` command line: a thin shell around :mod:`veil.jobs`.

``main`` is the console-script entry point (``veil = "veil.cli:main"``); the group is
:mod:`veil.cli.group`, and each command module registers its command on it here.
"""

from veil.cli import protect as _protect  # noqa: F401  (veil INPUT... / veil protect)
from veil.cli import render_cmd as _render_cmd  # noqa: F401  (veil render)
from veil.cli import review as _review  # noqa: F401  (veil review)
from veil.cli import verify_cmd as _verify_cmd  # noqa: F401  (veil verify)
from veil.cli.group import main

__all__ = ["main"]
