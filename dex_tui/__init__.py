"""dex-tui: onboard a Microsoft 365 tenant to Microsoft Defender Experts.

This package is the headless core. It never imports Textual or the ``screens`` package;
only :mod:`dex_tui.cli` starts the UI, lazily.
"""

__version__ = "0.1.0"
TOOL_NAME = "dex-tui"
