"""One entry point per thing we train."""
