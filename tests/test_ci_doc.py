"""docs/ci.md stays runnable: its workflow's dex-tui command is accepted by the check command's parser,
with and without the previous report, and uses only documented environment variables."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from dex_tui.app_signin import ENV_CERTIFICATE, ENV_PASSPHRASE, ENV_THUMBPRINT
from dex_tui.cli import build_parser
from dex_tui.settings import SETTING_SOURCES

DOC = (Path(__file__).resolve().parent.parent / "docs" / "ci.md").read_text(encoding="utf-8")
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _command() -> str:
    workflow = DOC.split("```yaml", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", "", workflow)
    return next(line.strip() for line in joined.splitlines() if line.strip().startswith("dex-tui check"))


def test_the_workflow_command_parses_with_and_without_compare() -> None:
    line = _command().replace('"$RUNNER_TEMP/dex-tui.pem"', "/tmp/x.pem")
    for compare in ("", "--compare previous/report.json --fail-on-regression"):
        argv = shlex.split(line.replace('"${compare[@]}"', compare))[1:]
        args = build_parser("check").parse_args(argv)
        assert args.command == "check" and args.client_certificate == Path("/tmp/x.pem")
        assert bool(args.compare) == bool(compare)


def test_the_workflow_uses_only_documented_variables() -> None:
    known = {env for _, env in SETTING_SOURCES.values()} | {ENV_CERTIFICATE, ENV_PASSPHRASE, ENV_THUMBPRINT}
    used = set(re.findall(r"\b(DEX_TUI_[A-Z_]+):", DOC))
    assert used and used <= known
    for name in (ENV_CERTIFICATE, ENV_PASSPHRASE, ENV_THUMBPRINT):
        assert f"`{name}`" in README
