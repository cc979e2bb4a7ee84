"""Pure arbitrage engine: odds maths, the quote board and the scanner.

Nothing here does I/O or imports ``sbws``; the server feeds quotes in and
broadcasts what comes out.
"""
