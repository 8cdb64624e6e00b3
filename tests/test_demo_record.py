"""``dex-tui demo-record``: every bundled walkthrough plays headless and writes its screenshots, which show
the scenario's real data and are the same at every run; bad walkthrough files and walkthroughs that do
not play as written end with exit code 4 and a message naming the file, line and key."""

from __future__ import annotations

import html
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from dex_tui import cli
from dex_tui.demo import load_scenario
from dex_tui.walkthrough import DIALOG_NAMES, bundled_names, load_walkthrough, resolve_walkthrough
from screens.recorder import DIALOGS

# What each bundled walkthrough's screenshots must show (beside the tenant name on the review).
EXPECTED: dict[str, dict[str, list[str]]] = {
    "xdr-all-roles": {
        "xdr-welcome": ["Step 1/8 · Welcome", "DEMO MODE", "scenario 'fresh'"],
        "xdr-sign-in-code": ["D E M O - 7 3 1 5", "https://login.demo.test/devicelogin", "Expires in 15:00"],
        "xdr-signed-in": ["Megan Bowen", "admin@contoso.onmicrosoft.com", "8c1f4b2e-6a3d-4e5f-9b70-2d4c6e8a0f13",
                          "Global Administrator"],
        "xdr-eligibility": ["✔ No blocker.", "Checked at 2025-06-02T09:00:00Z: 9 pass, 3 info; 5 to do in steps 4, 5, 6, 7",
                            "✔ pass", "Entra ID P1 for all"],
        "xdr-terms-accepted": ["Accepted by admin@contoso.onmicrosoft.com at 2025-06-02T09:00:00Z"],
        "xdr-licence": ["Seen at round", "Order confirmed by admin@contoso.onmicrosoft.com"],
        "xdr-permissions": ["Security operator · recommended · grant", "Security administrator"],
        "xdr-access-not-yet": ["✖ fail", "Not there yet?"],
        "xdr-access": ["Both are in place", "✔ pass"],
        "xdr-review": ["Ready: every required check passed", "Security administrator: granted",
                       "Every check"],
    },
    "xdr-skip-optional-roles": {
        "skip-operator-warning": ["Skip Security operator?", "Isolate a device"],
        "skip-administrator-warning": ["Skip Security administrator?"],
        "skip-access-with-warning": ["Security operator skipped: the experts cannot isolate a device",
                                     "Both are in place"],
        "skip-review": ["Security operator skipped", "Security administrator skipped",
                        "acknowledged by admin@contoso.onmicrosoft.com"],
    },
    "hunting": {
        "hunting-welcome": ["Defender Experts for Hunting", "scenario 'gcc'"],
        "hunting-signed-in": ["US Government Community (GCC)", "admin@contosogov.onmicrosoft.com"],
        "hunting-eligibility": ["Checked at 2025-06-02T09:00:00Z", "✔ pass"],
        "hunting-licence": ["Step 5/8 · Licence"],
        "hunting-contacts": ["Step 6/8 · Notification contacts", "Primary contact: soc@contosogov.com",
                             "Backup contacts: oncall@contosogov.com"],
        "hunting-sample": ["Step 7/8 · Sample notification", "✔ pass", "The test incident arrived"],
        "hunting-review": ["Step 8/8 · Review", "Service: Defender Experts for Hunting",
                           "Ready: every required check passed", "primary: soc@contosogov.com"],
    },
    "mdr-ready": {
        "mdr-welcome": ["Step 1/10 · Welcome", "Defender Experts MDR (today's setup)", "MDR to onboard today"],
        "mdr-eligibility": ["Covered products licensed", "To do in step 4, Permissions."],
        "mdr-permissions": ["Respond directly to active threats · Security Operator",
                            "Recorded by admin@contoso.onmicrosoft.com at 2025-06-02T09:00:00Z"],
        "mdr-exclusions": ["Every recorded exclusion group exists", "VIP Executives"],
        "mdr-contacts": ["Incident notification contacts: soc@contoso.com",
                         "Service review contacts: ciso@contoso.com"],
        "mdr-teams": ["The Defender Experts team exists", "Communicate on Teams recorded by"],
        "mdr-readiness": ["270 onboarded devices for 270 Defender for Endpoint P2 seats", "Actions needed"],
        "mdr-review": ["Step 10/10 · Review", "Ready: every required check passed", "Service: Defender Experts MDR",
                       "Access levels: Security Reader and Security Operator"],
    },
    "mdr-skip-operator": {
        "mdr-skip-operator-warning": ["Skip Security Operator?", "Isolate a device", "Soft-delete emails"],
        "mdr-skip-contacts-with-warning": ["Security operator skipped: the experts cannot isolate a device"],
        "mdr-skip-review": ["Access levels granted to the experts: Security Operator", "Ready with warnings"],
    },
}
REVIEWS = {"xdr-all-roles": "xdr-review", "xdr-skip-optional-roles": "skip-review", "hunting": "hunting-review",
           "mdr-ready": "mdr-review", "mdr-skip-operator": "mdr-skip-review"}


def svg_text(svg: str) -> str:
    """The text an SVG screenshot shows, line by line (Rich writes one <text> per styled run)."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for match in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg, re.S):
        rows.setdefault(float(match[2]), []).append((float(match[1]), html.unescape(match[3]).replace("\xa0", " ")))
    return "\n".join("".join(text for _, text in sorted(runs)) for _, runs in sorted(rows.items()))


def squash(text: str) -> str:
    return " ".join(text.split())


def record(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.run(["demo-record", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_walkthroughs_are_bundled() -> None:
    assert set(bundled_names()) >= set(EXPECTED)
    assert set(DIALOGS) | {"none"} == set(DIALOG_NAMES)


@dataclass(frozen=True)
class Recording:
    code: int
    out: str
    err: str
    output: Path
    tmp: Path


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """Every bundled walkthrough, recorded once into one new directory (several names in one command)."""
    tmp = tmp_path_factory.mktemp("recording")
    output = tmp / "shots" / "nested"  # created on the way
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.run(["demo-record", *sorted(EXPECTED), "--output", str(output)])
    return Recording(code, out.getvalue(), err.getvalue(), output, tmp)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_walkthrough_writes_screenshots_with_the_scenarios_data(name: str, recording: Recording) -> None:
    assert recording.code == 0, recording.err
    walkthrough = load_walkthrough(resolve_walkthrough(name))
    scenario = load_scenario(walkthrough.scenario)
    output = recording.output
    expected_files = [output / f"{shot}.svg" for shot in walkthrough.screenshots()]
    assert all(path.is_file() for path in expected_files)
    texts = {path.stem: svg_text(path.read_text(encoding="utf-8")) for path in expected_files}
    assert set(EXPECTED[name]) <= set(texts)
    for shot, needles in EXPECTED[name].items():
        shown = squash(texts[shot])
        for needle in needles:
            assert squash(needle) in shown, f"{shot}.svg does not show {needle!r}:\n{texts[shot]}"
    review = squash(texts[REVIEWS[name]])
    assert f"{scenario.display_name} ({scenario.default_domain}):" in review
    for text in texts.values():
        assert str(recording.tmp) not in text and "/tmp" not in text and "Traceback" not in text


def test_every_file_written_is_listed_and_nothing_else_is_left(recording: Recording) -> None:
    names = [shot for name in sorted(EXPECTED) for shot in load_walkthrough(resolve_walkthrough(name)).screenshots()]
    assert recording.out.split() == [str(recording.output / f"{shot}.svg") for shot in names]
    assert sorted(p.name for p in recording.output.iterdir()) == sorted(f"{shot}.svg" for shot in names)


def test_recording_is_the_same_at_every_run_and_replaces_files(recording: Recording, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "hunting-review.svg").write_text("old")
    walkthrough = resolve_walkthrough("hunting")
    assert record(capsys, str(walkthrough), "--output", "again")[0] == 0  # a path works as well as a name
    again = {p.name: p.read_bytes() for p in (tmp_path / "again").iterdir()}
    assert len(again) == 7
    assert again == {name: (recording.output / name).read_bytes() for name in again}
    assert (tmp_path / "again" / "hunting-review.svg").stat().st_mode & 0o777 == 0o644


GOOD_HEADER = '[walkthrough]\nscenario = "ready"\nservice = "xdr"\nsize = [80, 24]\n'
BAD_FILES = [
    ("not toml", GOOD_HEADER + "[[step]\n", ["not valid TOML", "line 5"]),
    ("unknown step key", GOOD_HEADER + '\n[[step]]\nscreenshot = "a"\n\n[[step]]\nprss = ["enter"]\n',
     ["line 10 (step 2)", "unknown key 'prss'", "focus, click, type, press, wait, screenshot"]),
    ("type not text", GOOD_HEADER + '\n[[step]]\ntype = ["a"]\nscreenshot = "a"\n',
     ["line 7 (step 1)", "type must be one line of printable text"]),
    ("bad key name", GOOD_HEADER + '\n[[step]]\npress = ["ctrl+n", "enterr"]\nscreenshot = "a"\n',
     ["line 7 (step 1)", "press: 'enterr' is not a key name"]),
    ("unknown step id", GOOD_HEADER + '\n[[step]]\nscreenshot = "a"\nwait = { step = "finale" }\n',
     ["line 8 (step 1)", "wait.step must be one of welcome, signin", "not 'finale'"]),
    ("unknown wait condition", GOOD_HEADER + '\n[[step]]\nscreenshot = "a"\nwait = { sleep = 3 }\n',
     ["line 8 (step 1)", "unknown wait condition 'sleep'"]),
    ("status without check", GOOD_HEADER + '\n[[step]]\nscreenshot = "a"\n\nwait = { status = "pass" }\n',
     ["line 9 (step 1)", "wait.status needs wait.check"]),
    ("unknown scenario", GOOD_HEADER.replace('"ready"', '"nowhere"') + '\n[[step]]\nscreenshot = "a"\n',
     ["line 2", "scenario 'nowhere'"]),
    ("size", GOOD_HEADER.replace("[80, 24]", "[20, 5]") + '\n[[step]]\nscreenshot = "a"\n',
     ["line 4", "size must be [columns, rows]"]),
    ("service", GOOD_HEADER.replace('"xdr"', '"moon"') + '\n[[step]]\nscreenshot = "a"\n',
     ["line 3", "service must be one of xdr, hunting, mdr"]),
    ("unknown header key", GOOD_HEADER + 'speed = 2\n\n[[step]]\nscreenshot = "a"\n',
     ["line 5", "unknown key 'speed' in [walkthrough]"]),
    ("missing header", '[[step]]\nscreenshot = "a"\n', ["the [walkthrough] table", "is missing"]),
    ("missing size", '[walkthrough]\nscenario = "ready"\n\n[[step]]\nscreenshot = "a"\n', ["'size'", "is missing"]),
    ("no screenshot", GOOD_HEADER + '\n[[step]]\npress = "enter"\n', ["no step has a screenshot"]),
    ("same screenshot twice", GOOD_HEADER + '\n[[step]]\nscreenshot = "a"\n\n[[step]]\nscreenshot = "a"\n',
     ["line 10 (step 2)", "'a' is used twice"]),
    ("path as screenshot name", GOOD_HEADER + '\n[[step]]\nscreenshot = "../escape"\n',
     ["line 7 (step 1)", "screenshot must be a file name"]),
    ("selector", GOOD_HEADER + '\n[[step]]\nfocus = "Button.primary"\nscreenshot = "a"\n',
     ["line 7 (step 1)", "focus must be a widget id"]),
    ("empty step", GOOD_HEADER + '\n[[step]]\n\n[[step]]\nscreenshot = "a"\n', ["line 6 (step 1)", "an empty step"]),
]


@pytest.mark.parametrize(("content", "fragments"), [pytest.param(c, f, id=i) for i, c, f in BAD_FILES])
def test_bad_walkthrough_file_is_exit_4_naming_the_line(content: str, fragments: list[str], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "walk.toml"
    path.write_text(content, encoding="utf-8")
    code, out, err = record(capsys, str(path), "--output", str(tmp_path / "out"))
    assert code == 4 and out == ""
    assert err.startswith("dex-tui: Bad walkthrough file:") and str(path) in err
    for fragment in fragments:
        assert fragment in err, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # every file is checked before anything is written


def test_unknown_walkthrough_name_lists_the_bundled_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = record(capsys, "xdr-every-role", "--output", str(tmp_path))
    assert code == 4 and "Walkthrough not found" in err and "xdr-all-roles" in err and "hunting" in err


def test_output_is_required_and_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = record(capsys, "hunting")
    assert code == 4 and "--output" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = record(capsys, "hunting", "--output", str(blocker / "shots"))
    assert code == 4 and "cannot be created" in err and "Traceback" not in err


def test_walkthrough_that_does_not_play_as_written_is_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wait that never holds ends the recording with what the wizard shows instead; the screenshots of
    the steps before it are written."""
    path = tmp_path / "walk.toml"
    path.write_text(GOOD_HEADER + '\n[[step]]\nscreenshot = "start"\n\n[[step]]\nfocus = "#next"\npress = "enter"\n'
                    'wait = { step = "review", timeout = 0.5 }\nscreenshot = "never"\n', encoding="utf-8")
    code, out, err = record(capsys, str(path), "--output", str(tmp_path / "out"))
    assert code == 4 and "Traceback" not in err
    assert "The walkthrough did not play as written" in err and f"{path}, line 9 (step 2)" in err
    assert "waited 0.5 s for the 'review' step" in err and "The wizard shows the 'signin' step" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["start.svg"]
    path.write_text(GOOD_HEADER + '\n[[step]]\nclick = "#nowhere"\nscreenshot = "a"\n', encoding="utf-8")
    code, _, err = record(capsys, str(path), "--output", str(tmp_path / "out"))
    assert code == 4 and "line 6 (step 1): nothing on the screen has the id #nowhere" in err
