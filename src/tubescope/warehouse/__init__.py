"""tubescope.warehouse."""
