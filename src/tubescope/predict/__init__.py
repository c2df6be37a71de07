"""tubescope.predict."""
