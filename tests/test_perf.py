"""What the performance work relies on: big pages parsed element by element (same answers and errors
as a whole-body parse), streamed results drawn in coalesced redraws that change cells rather than
rebuild the table, a start-up that loads only the first step, and the large demo tenant's size."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from graph_fakes import make_client
from test_wizard_support import make_app, reach, sign_in, wait_for

from dex_tui.demo import load_scenario
from dex_tui.graph import GraphError
from dex_tui.json_stream import object_members
from dex_tui.results import CheckResult, Status
from screens import messages as msg
from screens.checks_view import ChecksTable

VALID = [
    '{"value":[1,{"a":[1,2]},"x"],"@odata.nextLink":"https://mde.unit.test/api/machines?$skip=3"}',
    ' { "a" : 1 , "value" : [ ] } ', "{}", "{ }", '{"value":[]}\n', '{"value":{"x":1}}',
    '{"a":{"value":[9]}, "value": [{"id": "\\u00e9\\n"}, null, true, 1.5e3]}',
]
NOT_OBJECTS = ["[1]", "null", '"s"', "3"]
INVALID = ['{"value":[1,2', '{"value":[1,2]', '{"value":[1,2]} x', '{"a":1,}', "{,}", '{"a" 1}',
           '{"value":[1 2]}', "[1] x", '{"value":[1,]}', '{"value":[,1]}', "{}x", '{"a":1}}', "", "{", '{"a":}']


@pytest.mark.parametrize("text", VALID)
def test_element_parse_matches_json_loads(text: str) -> None:
    members: dict[str, object] = {}
    elements = list(object_members(text, members))
    whole = json.loads(text)
    value = whole.get("value")
    assert elements == (value if isinstance(value, list) else [])
    assert {k: v for k, v in members.items() if k != "value"} == {k: v for k, v in whole.items() if k != "value"}


@pytest.mark.parametrize("text", NOT_OBJECTS)
def test_element_parse_refuses_json_that_is_not_an_object(text: str) -> None:
    with pytest.raises(TypeError):
        list(object_members(text, {}))


@pytest.mark.parametrize("text", INVALID)
def test_element_parse_refuses_what_json_loads_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        list(object_members(text, {}))


def _raw(body: str):
    return lambda seen: (200, {"Content-Type": "application/json"}, body)


def test_page_items_come_batch_by_batch_and_a_broken_tail_is_a_malformed_answer() -> None:
    from dex_tui.json_stream import PARSE_BATCH

    good = ",".join(f'{{"id":{i}}}' for i in range(PARSE_BATCH))
    client, _, _ = make_client(_raw(f'{{"value":[{good},{{"id":1}},{{"id": BROKEN'))
    items = next(client.iter_page_items("mde", "/machines", read="machines"))
    assert [next(items) for _ in range(PARSE_BATCH)] == [{"id": i} for i in range(PARSE_BATCH)]  # before the tail
    with pytest.raises(GraphError) as info:
        next(items)
    assert info.value.kind == "malformed" and "not valid JSON" in info.value.reason()


def test_page_items_follow_a_next_link_written_after_the_value_even_when_a_page_is_left_early() -> None:
    pages = {"/api/machines": '{"value":[{"id":1},{"id":2}],"@odata.nextLink":"https://mde.unit.test/api/machines?p=2"}',
             "/api/machines?p=2": '{"@odata.context":"x","value":[{"id":3}]}'}
    client, adapter, _ = make_client(lambda seen: (200, {}, pages[seen.url.split("unit.test", 1)[1]]))
    seen_ids = []
    for items in client.iter_page_items("mde", "/machines"):
        seen_ids.append(next(items)["id"])  # take only the first item of each page
    assert seen_ids == [1, 3] and len(adapter.seen) == 2
    assert client.get_all("mde", "/machines") == [{"id": 1}, {"id": 2}, {"id": 3}]


@pytest.mark.parametrize(("body", "problem"), [('{"items": []}', "'value'"), ("[1, 2]", "not an object"),
                                               ('{"value": "x"}', "'value'")])
def test_pages_without_a_value_list_are_malformed(body: str, problem: str) -> None:
    client, _, _ = make_client(_raw(body))
    with pytest.raises(GraphError, match=problem) as info:
        client.get_all("graph", "/users")
    assert info.value.kind == "malformed"


def test_large_tenant_has_the_size_the_benchmark_promises() -> None:
    large = load_scenario("large")
    assert large.members + large.disabled_members + large.guests == 200_000
    assert sum(group.count for group in large.devices) == 100_000
    assert len(large.skus) == 50 and len({sku.sku_id for sku in large.skus}) == 50


def _changed(result: CheckResult, status: Status, summary: str) -> CheckResult:
    return replace(result, status=status, summary=summary)


async def test_streamed_results_change_cells_without_rebuilding_the_table(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await reach(app, pilot, "signin")
        await pilot.press("ctrl+n")
        await reach(app, pilot, "eligibility")
        await wait_for(pilot, lambda: not app.checks_running, timeout=10)
        table = app.screen.query_one("#checks", ChecksTable)
        table.move_cursor(row=4)
        await pilot.pause()
        selected = table.selected_id()
        assert selected is not None
        rebuilds = []
        original_clear = table.clear
        table.clear = lambda columns=False: rebuilds.append(columns) or original_clear(columns=columns)
        changed = _changed(app.results[selected], Status.FAIL, "changed by the test")
        app.merge_results([changed])
        await pilot.pause()
        assert rebuilds == []  # same rows: only cells changed
        assert table.selected_id() == selected and table.cursor_row == 4
        row = table.get_row(selected)
        assert "changed by the test" in row[2].plain and "fail" in row[0].plain


async def test_a_burst_of_results_costs_one_redraw_then_one_more(state_dir: Path, monkeypatch) -> None:
    import screens.app

    monkeypatch.setattr(screens.app, "REDRAW_INTERVAL", 0.5)  # wide, so a slow machine cannot blur it
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await reach(app, pilot, "signin")
        await pilot.press("ctrl+n")
        await reach(app, pilot, "eligibility")
        await wait_for(pilot, lambda: not app.checks_running, timeout=10)
        screen = app.screen
        redraws = []
        original = screen.results_changed
        screen.results_changed = lambda: redraws.append(1) or original()
        await pilot.pause(0.6)  # past the redraw interval
        # Checks no later step settles: a later step's row says only "To do in step N" until it passes.
        ids = [i for i in app.results if app.core.flow.step_settling(i, "xdr") is None][:5]
        for check_id in ids:
            result = _changed(app.results[check_id], Status.WARN, f"burst {check_id}")
            app.post_message(msg.CheckArrived(result, app.core.check_run))
        await wait_for(pilot, lambda: all(app.results[i].summary == f"burst {i}" for i in ids), timeout=2)
        assert len(redraws) == 1  # the first result is drawn at once, the rest wait for the interval
        await wait_for(pilot, lambda: len(redraws) == 2, timeout=3)
        await pilot.pause(0.6)
        assert len(redraws) == 2
        table = screen.query_one("#checks", ChecksTable)
        assert all(f"burst {i}" in table.get_row(i)[2].plain for i in ids)


async def test_the_first_step_is_the_bottom_screen_and_next_still_switches(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        assert [type(s).__name__ for s in app.screen_stack] == ["WelcomeScreen"]
        await sign_in(app, pilot)
        await reach(app, pilot, "signin")
        assert [type(s).__name__ for s in app.screen_stack] == ["SignInScreen"]


def test_a_builtin_theme_is_set_before_the_stylesheet_is_built(state_dir: Path) -> None:
    from dex_tui.settings import Settings
    from screens.app import WizardApp

    app = WizardApp(Settings(state_dir=state_dir), theme="ansi-dark")
    assert app.theme == "ansi-dark" and app.current_theme.name == "ansi-dark"
    assert {"-theme-ansi-dark", "-dark-mode"} <= set(app.classes)
    assert app.stylesheet._variables == app.get_css_variables()  # built for the chosen theme, no re-parse due
    other = WizardApp(Settings(state_dir=state_dir), theme="nord")
    assert other.theme == "nord"


def test_steps_load_on_first_use_and_the_preload_loads_and_freezes_them() -> None:
    from screens import steps

    assert steps.STEP_SCREENS["review"].__name__ == "ReviewScreen"
    gc.unfreeze()
    try:
        steps.preload_step_screens().join(timeout=60)
        from dex_tui.flow import default_flow

        assert all(step.screen.split(":")[0] in sys.modules for step in default_flow().steps)
        assert "dex_tui.auth" in sys.modules and "dex_tui.engine" in sys.modules
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_wizard_starts_without_sign_in_graph_checks_or_help() -> None:
    code = ("import sys; from screens.app import WizardApp, run_wizard; from screens.steps import STEP_SCREENS; "
            "STEP_SCREENS['welcome']; print(' '.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "screens.welcome" in loaded
    for heavy in ("msal", "requests", "dex_tui.auth", "dex_tui.runtime", "dex_tui.engine", "dex_tui.graph",
                  "dex_tui.report", "markdown_it", "screens.help", "screens.sign_in", "screens.checks_view"):
        assert heavy not in loaded, heavy


def test_pages_are_parsed_in_turns() -> None:
    import threading

    from dex_tui.json_stream import PARSE_TURN

    client, _, _ = make_client(_raw('{"value":[{"id":1},{"id":2}]}'))
    got: list[object] = []
    with PARSE_TURN:  # another page is being parsed
        reader = threading.Thread(target=lambda: got.extend(client.get_all("mde", "/machines")))
        reader.start()
        reader.join(timeout=0.2)
        assert reader.is_alive() and got == []  # downloaded, waiting for its turn to parse
    reader.join(timeout=5)
    assert got == [{"id": 1}, {"id": 2}]


def test_https_loads_the_trusted_cas_once_per_bundle_and_still_verifies(monkeypatch) -> None:
    import ssl
    import threading

    import requests

    from dex_tui.demo import DemoServer, FakeCloud
    from dex_tui.http import HttpSession, build_session

    loads: list[object] = []
    original = ssl.SSLContext.load_verify_locations
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations",
                        lambda self, *a, **k: loads.append(a or k) or original(self, *a, **k))
    with DemoServer(FakeCloud(load_scenario("ready"))) as server:
        session = build_session(Path(server.ca_file))  # the system CAs plus the demo CA, as --ca-bundle does
        url = f"{server.login_url}/common/v2.0/.well-known/openid-configuration"
        answers: list[int] = []

        def fetch() -> None:  # "Connection: close": every request opens a new TLS connection
            for attempt in range(3):  # a loaded machine may drop a connection: that is not what is measured
                try:
                    answers.append(session.get(url, headers={"Connection": "close"}).status_code)
                    return
                except requests.exceptions.ConnectionError:
                    if attempt == 2:
                        raise

        readers = [threading.Thread(target=fetch) for _ in range(4)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout=30)
        fetch()
        assert answers == [200] * 5
        assert len(loads) == 1  # five connections, one load of the bundle
        with pytest.raises(requests.exceptions.SSLError):
            HttpSession().get(url)  # the default CAs do not trust the demo server: verification is on
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
        assert HttpSession().get(url).status_code == 200  # requests' own override of the default bundle
