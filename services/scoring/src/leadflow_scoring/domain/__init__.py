"""The pure scoring domain: frozen dataclasses in, new state and events out. No I/O, no clock."""
