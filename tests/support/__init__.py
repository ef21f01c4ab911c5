"""Test infrastructure shared across the suite (not tests themselves)."""
