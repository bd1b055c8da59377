"""Pure handover decisions: signing, retry schedule. No I/O, no clock."""
