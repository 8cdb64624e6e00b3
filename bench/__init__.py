"""dex-tui's benchmark: figures measured side by side in one run (``python bench/run.py``)."""
