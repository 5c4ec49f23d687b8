"""The test suite, one folder per layer it exercises.

* ``core/``: the pure core (``evote``): known answers, fuzzing, vectors, rulebook.
* ``server/``: the ballot server: the JSON API, storage, gunicorn processes, hostile traffic, OIDC, pages.
* ``verifier/``: ``evote-verify``, its checks, mutations and the conformance suite.
* ``cli/``: the ``evote`` commands, ``evote vote`` and its retry loop.
* ``booth/``: the web booth: its JavaScript against the Python, the bundle, Chromium.
* ``e2e/``: several parties and layers at once (server and verifier agreeing, witnesses, abandon).
* ``attacks/``: one module per documented attack (docs/threat-model.md).
* ``support/``: what several folders share, no tests: election builders, the
  board-database set-up, servers as processes, the OpenID provider (``support/oidc``).

``tests/vectors/`` stays where the generators in ``tools/`` and the booth's
node tests read it.  ``tests/conftest.py`` (the ``board_db`` / ``db_url`` /
``store`` fixtures) applies to every folder.
"""
