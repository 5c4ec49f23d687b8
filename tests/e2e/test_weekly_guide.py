"""docs/guide.md cannot drift from the command line.

Every command in the guide's fenced blocks that runs ``evote`` or
``evote-verify`` (also after ``VAR=value`` prefixes, a ``\\`` continuation,
``&&`` / ``;`` / ``|``, or as a systemd ``ExecStart=`` line) is walked down
click's own command tree from ``cli.main`` and ``verifier.main``: each
subcommand must exist, each option must be one the command declares, an
option's value is consumed as click would, and the number of positional
arguments must fit the command's arguments.  ``<placeholders>`` count as one
argument.  The checker itself is tested first on lines it must refuse, so a
checker that accepts everything fails here.

Why not run the commands: most need a server, keys and trustees; the shape
of a command line is what drifts when an option is renamed.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from cli.main import cli as evote_cli
from verifier.main import cli as verify_cli

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide.md"
PROGRAMS: dict[str, click.Command] = {"evote": evote_cli, "evote-verify": verify_cli}
# evote-verify SOURCE means evote-verify record SOURCE (verifier.main._DefaultToRecord).
DEFAULT_SUBCOMMAND = {"evote-verify": "record"}
HELP = {"--help", "-h"}
CHAPTER = "## 11. Weekly polls"
_FENCE = re.compile(r"^\s*```")
_PLACEHOLDER = re.compile(r"<[^<>\n]+>")
_MENTIONS = re.compile(r"\bevote")  # a cheap pre-filter; the first word decides
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_SEPARATORS = {"&&", "||", ";", "|", "&"}


@dataclass(frozen=True)
class Command:
    line: int  # 1-based line in the guide where the command starts
    text: str
    argv: tuple[str, ...]  # program name first


def fenced_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line inside a fenced block, continuations joined."""
    out: list[tuple[int, str]] = []
    inside = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            continue
        if pending is not None:
            start, head = pending
            line, number = head + " " + line.strip(), start
            pending = None
        if line.rstrip().endswith("\\"):
            pending = (number, line.rstrip()[:-1])
            continue
        out.append((number, line))
    assert not inside, "an unclosed fenced block"
    return out


def commands_in(lines: list[tuple[int, str]]) -> list[Command]:
    """The evote / evote-verify invocations on these lines."""
    found: list[Command] = []
    for number, line in lines:
        if not _MENTIONS.search(line):
            continue
        lexer = shlex.shlex(_PLACEHOLDER.sub("PLACEHOLDER", line), posix=True,
                            punctuation_chars=";&|")
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError as exc:
            pytest.fail(f"guide line {number}: cannot split {line!r}: {exc}")
        segment: list[str] = []
        for token in [*tokens, ";"]:
            if token not in _SEPARATORS:
                segment.append(token)
                continue
            while segment and _ENV.match(segment[0]) and not segment[0].startswith("ExecStart="):
                segment.pop(0)
            if segment:
                program = segment[0].removeprefix("ExecStart=").rsplit("/", 1)[-1]
                if program in PROGRAMS:
                    found.append(Command(number, line.strip(), (program, *segment[1:])))
            segment = []
    return found


def _option_table(command: click.Command) -> dict[str, bool]:
    """Every spelling of every option of ``command`` -> whether it takes a value."""
    table = {name: False for name in HELP}
    for param in command.params:
        if isinstance(param, click.Option):
            takes = not (param.is_flag or param.count)
            for name in (*param.opts, *param.secondary_opts):
                table[name] = takes
    return table


def _positional_range(command: click.Command) -> tuple[int, float]:
    low, high = 0, 0.0
    for param in command.params:
        if isinstance(param, click.Argument):
            if param.nargs < 0:
                high = math.inf
            else:
                high += param.nargs
                if param.required and not param.envvar:
                    low += param.nargs
    return low, high


def problems(argv: tuple[str, ...]) -> list[str]:
    """What is wrong with this command line, by click's tree (empty: nothing)."""
    program, args = argv[0], list(argv[1:])
    command = PROGRAMS[program]
    path = [program]
    while True:
        table = _option_table(command)
        positional: list[str] = []
        rest: list[str] = []
        i = 0
        while i < len(args):
            token = args[i]
            if isinstance(command, click.Group) and not token.startswith("-"):
                rest = args[i:]
                break
            if token.startswith("-") and token != "-":
                name = token.split("=", 1)[0]
                if name not in table:
                    return [f"{' '.join(path)}: no such option {name}"]
                if table[name] and "=" not in token:
                    if i + 1 >= len(args):
                        return [f"{' '.join(path)}: option {name} needs a value"]
                    i += 1
            else:
                positional.append(token)
            i += 1
        if not isinstance(command, click.Group):
            low, high = _positional_range(command)
            if not low <= len(positional) <= high:
                want = f"{low}" if low == high else f"{low} to {high}"
                return [f"{' '.join(path)}: {len(positional)} arguments {positional}, "
                        f"takes {want}"]
            return []
        if not rest:
            if HELP & set(args) or "--version" in args:
                return []
            return [f"{' '.join(path)}: no subcommand"]
        name = rest[0]
        if name in command.commands:
            args = rest[1:]
        elif command is PROGRAMS[program] and program in DEFAULT_SUBCOMMAND:
            name, args = DEFAULT_SUBCOMMAND[program], rest
        else:
            return [f"{' '.join(path)}: no such subcommand {name!r}"]
        command = command.commands[name]
        path.append(name)


def guide_commands(text: str) -> list[Command]:
    return commands_in(fenced_lines(text))


def chapter(text: str) -> str:
    start = text.index(CHAPTER)
    end = text.find("\n## ", start + len(CHAPTER))
    return text[start:] if end < 0 else text[start:end]


# -- the checker refuses what it must (unhappy paths first) -----------------------------

@pytest.mark.parametrize(("line", "expected"), [
    ("evote election export e --out r.zip --allow-uncosinged", "no such option --allow-uncosinged"),
    ("evote election scheduled e", "no such subcommand 'scheduled'"),
    ("evote voters register --election e --from s.csv --oidc-subject", "no such option"),
    ("evote election status", "0 arguments"),
    ("evote election status a b", "2 arguments"),
    ("evote election", "no subcommand"),
    ("evote trustee keygen --state", "needs a value"),
    ("evote-verify receipt r.json", "1 arguments"),
    ("evote-verify rec.zip --board-keys K", "no such option --board-keys"),
    ("EVOTE_SERVER=x evote witness run d --intervall 30", "no such option --intervall"),
    ("ExecStart=/opt/evote/bin/evote serve --worker 2", "no such option --worker"),
    ("cd x && evote election close e --now", "no such option --now"),
])
def test_checker_refuses_wrong_lines(line: str, expected: str) -> None:
    text = f"```sh\n{line}\n```\n"
    found = guide_commands(text)
    assert len(found) == 1, found
    wrong = problems(found[0].argv)
    assert wrong and expected in wrong[0], wrong


def test_checker_follows_continuations_placeholders_and_values() -> None:
    text = ("```sh\n"
            "evote election open e --booth-sha256 <hex digest of your build> \\\n"
            "    --key official.key     # a comment with --no-such-option\n"
            "evote vote --choices 'a=1;b=2' --login x.login   # quoted ; is no separator\n"
            "python -m venv evote-env && . evote-env/bin/activate\n"
            "```\n")
    found = guide_commands(text)
    assert [c.line for c in found] == [2, 4]
    assert found[0].argv[-2:] == ("--key", "official.key")
    assert [problems(c.argv) for c in found] == [[], []]


def test_checker_ignores_text_outside_fences_and_other_programs() -> None:
    text = "evote election nosuch\n```yaml\nelection_id: evote-x\n```\n```sh\ncurl -s evote\n```\n"
    assert guide_commands(text) == []


# -- the guide --------------------------------------------------------------------------

def test_weekly_chapter_commands_exist() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    part = chapter(text)
    offset = text[: text.index(CHAPTER)].count("\n")
    found = guide_commands(part)
    # The chapter walks the whole cycle: a checker that extracts nothing must fail.
    assert len(found) >= 25, [c.text for c in found]
    used = {" ".join(c.argv[:3]) for c in found}
    for needed in ("evote election schedule", "evote election abandon",
                   "evote voters register", "evote witness run", "evote election export"):
        assert any(u.startswith(needed) for u in used), needed
    wrong = [f"guide line {c.line + offset}: {c.text}\n    {p}"
             for c in found for p in problems(c.argv)]
    assert not wrong, "\n".join(wrong)


def test_every_guide_command_exists() -> None:
    found = guide_commands(GUIDE.read_text(encoding="utf-8"))
    wrong = [f"guide line {c.line}: {c.text}\n    {p}" for c in found for p in problems(c.argv)]
    assert not wrong, "\n".join(wrong)
