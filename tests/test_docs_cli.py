"""docs/cli.md names every subcommand and every visible option of the console command.

The parser is walked (:func:`parity_frontiers.cli.build_parser`), so an option added to a
command without a word in the reference fails here. Hidden options (``argparse.SUPPRESS``:
old spellings kept for one release) are exempt; they must not be taught.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from parity_frontiers.cli import build_parser

DOC = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
#: Options every command shares, described once under the conventions.
SHARED = {"--help", "-h"}


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(command words, parser) for every leaf subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, child in subs[0].choices.items():
        yield from _commands(child, (*prefix, name))


COMMANDS = list(_commands(build_parser()))


def _options(parser):
    visible, hidden = set(), set()
    for action in parser._actions:
        names = {o for o in action.option_strings if o.startswith("--")}
        (hidden if action.help == argparse.SUPPRESS else visible).update(names)
    return visible - SHARED, hidden - SHARED


def _mentioned(option: str) -> bool:
    return re.search(re.escape(option) + r"(?![a-z0-9-])", DOC) is not None


def test_the_walk_finds_the_commands():
    names = {" ".join(words) for words, _ in COMMANDS}
    assert {"bound", "sweep", "results export", "results curves", "simulate sq visible",
            "model fit", "tabular run"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("words,parser", COMMANDS, ids=[" ".join(w) for w, _ in COMMANDS])
def test_every_command_and_option_is_documented(words, parser):
    assert re.search(r"(`|parity-frontiers )" + re.escape(" ".join(words)) + r"[` ]", DOC), \
        f"docs/cli.md never names `{' '.join(words)}`"
    visible, _ = _options(parser)
    missing = sorted(o for o in visible if not _mentioned(o))
    assert not missing, f"{' '.join(words)}: options missing from docs/cli.md: {missing}"


@pytest.mark.parametrize("words,parser", COMMANDS, ids=[" ".join(w) for w, _ in COMMANDS])
def test_hidden_old_spellings_are_not_taught(words, parser):
    visible_anywhere = set().union(*(_options(p)[0] for _, p in COMMANDS))
    _, hidden = _options(parser)
    taught = sorted(o for o in hidden - visible_anywhere if _mentioned(o))
    assert not taught, f"{' '.join(words)}: docs/cli.md teaches hidden options {taught}"


def _sections() -> dict[str, str]:
    """Top-level sections of docs/cli.md (``## `` headings, subsections included)."""
    parts = re.split(r"^## ", DOC, flags=re.M)[1:]
    return {part.splitlines()[0]: part for part in parts}


JSON_KEYS = json.loads((Path(__file__).resolve().parent / "data" / "json_keys.json")
                       .read_text(encoding="utf-8"))


@pytest.mark.parametrize("command", sorted(JSON_KEYS))
def test_every_json_key_is_documented_in_its_command_section(command):
    word = command.split()[0]
    sections = [text for head, text in _sections().items() if f"`{word}`" in head]
    assert len(sections) == 1, f"no single section of docs/cli.md is headed by `{word}`"
    missing = [key for key in JSON_KEYS[command] if f"`{key}`" not in sections[0]]
    assert not missing, f"{command} --json keys missing from its section: {missing}"
