"""The per-user folders dex-tui reads and writes, without importing platformdirs on Linux."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("state, config", [(None, None), ("/x/state", "/x/config"), ("  ", "")])
def test_the_user_folders_are_where_platformdirs_puts_them(monkeypatch: pytest.MonkeyPatch, state: str | None,
                                                           config: str | None) -> None:
    import platformdirs

    from dex_tui.user_dirs import user_dir

    for variable, value in (("XDG_STATE_HOME", state), ("XDG_CONFIG_HOME", config), ("XDG_CACHE_HOME", state)):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    assert str(user_dir("state")) == platformdirs.user_state_dir("dex-tui", appauthor=False)
    assert str(user_dir("config")) == platformdirs.user_config_dir("dex-tui", appauthor=False)
    assert str(user_dir("cache")) == platformdirs.user_cache_dir("dex-tui", appauthor=False)
