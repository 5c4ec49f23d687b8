"""The attack suite: one module per publicly documented attack on an e-voting system.

Each module reproduces the attack against evote with real keys and proofs and
asserts the exact rejection or detection that defeats it; docs/threat-model.md
maps every module to the check it exercises.
"""
