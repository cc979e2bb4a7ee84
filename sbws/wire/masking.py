"""RFC 6455 §5.1: every frame a client sends must be masked; a server must close the connection otherwise.

A pure scanner over the client's raw byte stream that walks frame headers
across chunk boundaries and stops at the first frame without the mask bit.
"""

from __future__ import annotations


class MaskScanner:
    def __init__(self) -> None:
        self._header = bytearray()
        self._skip = 0

    def feed(self, data: bytes) -> bool:
        """False at the first unmasked frame (and from then on); True while every frame so far is masked."""
        if self._skip < 0:
            return False
        i, n = 0, len(data)
        while i < n:
            if self._skip:
                step = min(self._skip, n - i)
                self._skip -= step
                i += step
                continue
            self._header.append(data[i])
            i += 1
            header = self._header
            if len(header) < 2:
                continue
            if not header[1] & 0x80:
                self._skip = -1
                return False
            short = header[1] & 0x7F
            extended = 2 if short == 126 else 8 if short == 127 else 0
            if len(header) < 2 + extended + 4:
                continue
            self._skip = int.from_bytes(header[2:2 + extended], "big") if extended else short
            header.clear()
        return self._skip >= 0
