"""tubescope.service."""
