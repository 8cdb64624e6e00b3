"""Lines for a person on stdout and stderr that never end a run: a closed pipe (``dex-tui check | head -1``)
or a closed stream drops them silently, so the report is still written and the exit code is still the
verdict.

After the first failed write the stream's file descriptor is pointed at the null device, so neither a
later write nor the interpreter's flush at exit fails again (Python would print "Exception ignored ...
BrokenPipeError" and exit 120).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from typing import TextIO


def emit(stream: TextIO | None, text: str) -> bool:
    """Write ``text`` to ``stream`` and flush; False (and the stream silenced) when it is gone."""
    if stream is None:  # Python sets sys.stdout/sys.stderr to None when the descriptor was closed at start
        return False
    try:
        stream.write(text)
        stream.flush()
        return True
    except BrokenPipeError:
        silence(stream)
    except ValueError:  # the stream object was closed
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.EBADF, errno.ECONNRESET):
            raise
        silence(stream)
    return False


def err(text: str) -> bool:
    """One line on stderr (progress, notices, errors)."""
    return emit(sys.stderr, text + "\n")


def out(text: str) -> bool:
    """One line on stdout (what a command prints as its result)."""
    return emit(sys.stdout, text + "\n")


def silence(stream: TextIO | None) -> None:
    """Point ``stream``'s descriptor at the null device (nothing to do for streams without one)."""
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation, AttributeError):
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)


def flush_quietly() -> None:
    """Flush stdout and stderr before exit; a closed pipe is silenced instead of failing the exit."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except (BrokenPipeError, OSError):
            silence(stream)
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                stream.flush()
        except ValueError:
            continue
