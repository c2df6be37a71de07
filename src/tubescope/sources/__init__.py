"""tubescope.sources."""
