"""evote's pure core: the protocol as code, with no I/O, no Flask and no SQLAlchemy.

The server (:mod:`ballot_server`), the auditor (:mod:`verifier`) and the command
line (:mod:`cli`) all build on it and ask it every rule: :mod:`evote.kinds`
(board entry kinds), :mod:`evote.rulebook` (every rule with its id) and
:mod:`evote.rules` (the board projection).  Import the module you need by name;
this package re-exports nothing.  ``README.md`` ("Inside the packages") maps the
modules; an import contract keeps this package free of the layers above it.
"""
