"""Scripts that print figures; not tests."""
