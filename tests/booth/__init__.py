"""booth tests."""
