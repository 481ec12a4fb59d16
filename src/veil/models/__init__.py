"""Model files shipped inside veil (each folder holds its licence and provenance)."""
