"""Generators of published artefacts: the test vectors (``make vectors``) and the
conformance suite (``make conformance``).  Their output is committed and never
edited by hand; ``--check`` runs in the tests to keep it in step with the code."""
