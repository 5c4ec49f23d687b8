"""verifier tests."""
