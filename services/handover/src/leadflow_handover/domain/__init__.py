"""Pure handover decisions: signing, retry schedule, routing and assignment. No I/O, no clock."""
