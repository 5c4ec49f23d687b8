"""Command-line options shared by several ``evote`` commands.

Each option also reads an environment variable, so a session can set the
server and key files once (``export EVOTE_SERVER=https://vote.example.org``)
and the copy-paste commands in docs/guide.md stay short.
"""

from __future__ import annotations

import click

server_option = click.option(
    "--server",
    envvar="EVOTE_SERVER",
    required=True,
    metavar="URL",
    help="Ballot server base URL, e.g. https://vote.example.org [env: EVOTE_SERVER].",
)

official_key_option = click.option(
    "--key",
    "key_path",
    envvar="EVOTE_OFFICIAL_KEY",
    default="official.key",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The official's signing key file (from `evote official init`) [env: EVOTE_OFFICIAL_KEY].",
)

ca_key_option = click.option(
    "--key",
    "key_path",
    envvar="EVOTE_CA_KEY",
    default="credential-authority.key",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The credential authority's signing key file (from `evote credentials init`) "
    "[env: EVOTE_CA_KEY].",
)

trustee_state_option = click.option(
    "--state",
    "state_path",
    envvar="EVOTE_TRUSTEE_STATE",
    default="trustee.state",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="This trustee's private state file (from `evote trustee init`) "
    "[env: EVOTE_TRUSTEE_STATE].",
)

election_argument = click.argument("election_id", metavar="ELECTION_ID")

election_option = click.option(
    "--election",
    "election_id",
    envvar="EVOTE_ELECTION",
    required=True,
    metavar="ID",
    help="Election id, as in the manifest [env: EVOTE_ELECTION].",
)


class OrderedGroup(click.Group):
    """A command group that lists its commands in the order they were added
    (the order an election uses them), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)
