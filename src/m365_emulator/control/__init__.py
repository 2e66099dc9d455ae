"""The control API under ``/_emulator/``: reset, seed, clock, settings, faults, revocation."""
