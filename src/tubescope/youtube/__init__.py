"""tubescope.youtube."""
