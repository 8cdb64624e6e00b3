"""A QR code of an address, drawn with text characters (``segno`` encodes it).

Two rows of modules share one line of half-block characters, dark modules in black on a white ground
whatever the theme, with a two-module light margin, so a phone's camera reads it from the terminal. Only
the address is encoded: the user code is still typed (it is what proves the sign-in is the operator's).
"""

from __future__ import annotations

from rich.text import Text

QR_STYLE = "#000000 on #ffffff"
QR_BORDER = 2  # modules of light margin around the code
MAX_ADDRESS = 300  # a device-code address is short; anything longer is not drawn
# (top dark, bottom dark) -> the character drawing both modules in the foreground (dark) colour
_HALF_BLOCKS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def qr_lines(address: str) -> list[str]:
    """The QR code of ``address`` as lines of half-block characters (empty for an address too long to draw)."""
    import segno

    if not address or len(address) > MAX_ADDRESS:
        return []
    code = segno.make(address, micro=False)
    rows = [tuple(bool(module) for module in row) for row in code.matrix_iter(scale=1, border=QR_BORDER)]
    if len(rows) % 2:
        rows.append(tuple(False for _ in rows[0]))
    return ["".join(_HALF_BLOCKS[pair] for pair in zip(top, bottom, strict=True))
            for top, bottom in zip(rows[::2], rows[1::2], strict=True)]


def qr_text(address: str) -> Text:
    """The QR code of ``address``, ready to show (black on white)."""
    return Text("\n".join(qr_lines(address)), style=QR_STYLE, no_wrap=True, overflow="crop")


def qr_size(address: str) -> tuple[int, int]:
    """(columns, lines) the QR code of ``address`` takes on screen."""
    lines = qr_lines(address)
    return (len(lines[0]) if lines else 0), len(lines)
