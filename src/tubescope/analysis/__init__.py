"""Pure statistics over the warehouse's frames: no IO, no logging, the clock is a parameter."""
