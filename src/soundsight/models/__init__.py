"""Networks we define, one architecture per file."""
