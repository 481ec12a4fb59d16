"""Stage 0, media: read images and video as upright RGB frames; write clean files."""
