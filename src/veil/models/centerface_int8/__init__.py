"""CenterFace quantised to int8 for video frames (MIT); see PROVENANCE.md and LICENSE here."""
