"""Allow ``python -m dex_tui``."""

from dex_tui.cli import main

raise SystemExit(main())
