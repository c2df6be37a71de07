"""tubescope.pipeline."""
