"""YuNet-n face detector weights (Apache-2.0); see PROVENANCE.md and LICENSE here."""
