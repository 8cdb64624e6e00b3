"""Allow ``python -m dex_tui`` (the same start as the ``dex-tui`` command, see :mod:`dex_tui.start`)."""

from dex_tui.start import main

raise SystemExit(main())
