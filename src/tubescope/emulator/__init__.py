"""tubescope.emulator."""
