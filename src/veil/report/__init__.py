"""Stage 5, report: JSON for machines, one self-contained HTML page for people."""
