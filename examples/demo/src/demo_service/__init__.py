"""A tiny service used to show what the gates catch."""
