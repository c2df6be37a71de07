"""tubescope.report."""
