"""Text files as people save them: UTF-8 with or without a BOM, Windows-1252 or Latin-1, or a mix.

Each line is decoded on its own: as UTF-8 when it is valid UTF-8, else as
Windows-1252 (Latin-1 for the five bytes Windows-1252 leaves undefined).  A
stray byte in one line (a referee's name saved by another program) costs
nothing, and a legacy file reads whole.  NUL bytes are dropped.
"""

from __future__ import annotations

import codecs

UTF8 = "utf-8"
UTF8_BOM = "utf-8 with BOM"
WINDOWS_1252 = "windows-1252"


def _legacy(raw: bytes) -> str:
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def decode_lines(data: bytes) -> tuple[list[str], str]:
    """The file's lines, and how it was encoded: ``utf-8``, ``utf-8 with BOM``, ``windows-1252``, or
    ``utf-8, N lines windows-1252`` for a mix."""
    bom = data.startswith(codecs.BOM_UTF8)
    if bom:
        data = data[len(codecs.BOM_UTF8):]
    lines: list[str] = []
    legacy = utf8 = 0
    for raw in data.splitlines():
        try:
            text = raw.decode("utf-8")
            utf8 += not raw.isascii()
        except UnicodeDecodeError:
            text = _legacy(raw)
            legacy += 1
        lines.append(text.replace("\x00", ""))
    if not legacy:
        return lines, UTF8_BOM if bom else UTF8
    if not utf8 and not bom:
        return lines, WINDOWS_1252
    return lines, f"{UTF8_BOM if bom else UTF8}, {legacy} line{'s' if legacy > 1 else ''} {WINDOWS_1252}"
