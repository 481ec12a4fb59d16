"""Benchmarks: protection and speed figures as ../shared/METRICS.md defines them.

Not part of the installed package: run them from the repository root, in the project's
venv, as ``python -m benchmarks.leak`` (and so on); each module's docstring says what it
measures and BENCHMARKS.md holds the figures with the commands that made them.
"""
