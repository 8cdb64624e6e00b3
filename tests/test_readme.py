"""The README stays true: every command, option, check id and demo scenario the code has is documented,
and the two set-up commands are where .ci/run looks for them."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from dex_tui.catalogue import ALL_CHECK_IDS
from dex_tui.cli import SUBCOMMANDS, _command_module, build_parser
from dex_tui.demo.scenario import scenario_names

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings
            if opt.startswith("--") and opt != "--help"}


def test_the_two_setup_commands_are_marked_for_ci() -> None:
    for marker in ("<!-- run-command -->", "<!-- test-command -->"):
        after = README.split(marker, 1)[1]
        block = re.match(r"\s*```sh\n(.+?)\n```", after, re.S)
        assert block, f"no sh block right after {marker}"
    run_command = README.split("<!-- run-command -->", 1)[1]
    assert "dex-tui --demo" in run_command.split("```")[1]


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_command_and_its_options_are_documented(name: str) -> None:
    assert f"dex-tui {name}" in README or re.search(rf"dex-tui \[[^\]]*\] {re.escape(name)}\b", README), name
    parser = argparse.ArgumentParser()
    _command_module(name).add_arguments(parser, name)
    for option in sorted(_options(parser)):
        assert f"`{option}" in README, f"{name} {option} is not in the README"


def test_every_global_option_is_documented() -> None:
    for option in sorted(_options(build_parser())):
        assert f"`{option}" in README, f"{option} is not in the README"


@pytest.mark.parametrize("check_id", ALL_CHECK_IDS)
def test_every_check_id_is_in_the_checks_table(check_id: str) -> None:
    assert f"| `{check_id}` |" in README


@pytest.mark.parametrize("scenario", scenario_names())
def test_every_demo_scenario_is_described(scenario: str) -> None:
    assert f"| `{scenario}` |" in README


def _answers_example(first_line: str) -> str:
    """The README's answers-file example that starts with ``first_line`` (up to its [hunting] part)."""
    for block in re.findall(r"```toml\n(.*?)```", README, re.S):
        body = block.split("\n", 2)[2] if block.startswith('service = "mdr"') else block
        if body.startswith(first_line):
            return body.split("[hunting]")[0]
    raise AssertionError(f"no answers example starting with {first_line}")


def test_the_mdr_answers_example_is_a_valid_answers_file() -> None:
    import tomllib

    from dex_tui.answers import Answers

    block = next(b for b in re.findall(r"```toml\n(.*?)```", README, re.S) if b.startswith('service = "mdr"'))
    answers = Answers.from_dict(tomllib.loads(block))
    assert answers.mdr is not None and answers.hunting is not None and answers.mdr.contacts


def _scenario_rows() -> dict[str, tuple[str, int]]:
    table = README.split("| scenario | what it shows | exit |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.strip().splitlines()[1:]:
        name, text, code = (cell.strip() for cell in line.strip("|").split(" | "))
        rows[name.strip("`")] = (text, int(code))
    return rows


@pytest.mark.parametrize("scenario", scenario_names())
def test_the_scenario_table_says_what_check_exits_with(scenario: str, tmp_path: Path, capsys,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The exit column is what ``dex-tui --demo SCENARIO check`` really does with every confirmation
    recorded; a scenario described as warning shows a warning, one said to fail sign-in fails it."""
    import json

    from dex_tui import engine
    from dex_tui.cli import run

    original = engine.client_for
    monkeypatch.setattr(engine, "client_for", lambda runtime, **kw: original(runtime, sleep=lambda s: None, **kw))
    answers = tmp_path / "answers.toml"
    answers.write_text('service = "xdr"\n[terms]\nby = "a@contoso.com"\nat = "2025-06-02T09:10:00Z"\n'
                       '[license]\nby = "a@contoso.com"\nat = "2025-06-02T09:12:00Z"\n'
                       '[roles]\nsecurity_reader = true\nsecurity_operator = true\nsecurity_administrator = true\n')
    service = ["--service", "mdr"] if scenario.startswith("mdr-") else []
    if service:  # today's MDR flow: the README's [mdr] example, with scoped coverage chosen
        answers.write_text('service = "mdr"\n' + _answers_example("[mdr]").replace(
            "scoped_coverage = false", "scoped_coverage = true"))
    text, expected = _scenario_rows()[scenario]
    code = run(["--demo", scenario, "--state-dir", str(tmp_path / "state"), "check", "--answers", str(answers),
                *service, "--format", "json"])
    out = capsys.readouterr().out
    assert code == expected, f"{scenario}: the README says {expected}, check exits {code}"
    if code != 3:
        statuses = {c["status"] for c in json.loads(out)["checks"] if c["severity"] != "info"}
        assert ("warn" in statuses) == ("warning" in text), (scenario, statuses)
