"""tubescope: YouTube channel analytics — collect, store, analyse, predict, present."""

__version__ = "0.1.0"
