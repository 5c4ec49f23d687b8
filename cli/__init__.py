"""The `evote` command line: every party of an election, over the ballot server's HTTP API."""
