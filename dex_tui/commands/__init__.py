"""Subcommands of ``dex-tui``: each module offers ``add_arguments(parser, name)`` and
``run(settings, args) -> int``, keeps its top-level imports light, and is imported only by the CLI."""
