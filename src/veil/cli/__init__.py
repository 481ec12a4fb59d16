"""The ``veil`` command line: a thin shell around :mod:`veil.jobs`.

``main`` is the console-script entry point (``veil = "veil.cli:main"``).
"""

from veil.cli.app import main

__all__ = ["main"]
