"""evote-verify: re-check an election from its public record, needing nothing but :mod:`evote`.

Modules: :mod:`verifier.sources` (where the bytes come from: a directory, a
zip, a live server), :mod:`verifier.record` (the record, valid by
construction), :mod:`verifier.checks` (the numbered checks and the
streaming engine), :mod:`verifier.parallel` (ballot checks on local processes
or a Dask cluster), :mod:`verifier.receipt` and :mod:`verifier.audit` (the
voter's checks), :mod:`verifier.report` (table, JSON, HTML),
:mod:`verifier.errors` and :mod:`verifier.main` (the ``evote-verify`` CLI).
The checks are specified in ``docs/verifier.md``.
"""
