"""CSV cells a spreadsheet will not run as formulas.

Excel, LibreOffice and Google Sheets read a cell beginning with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return as a formula, so a person named ``=HYPERLINK(...)`` in an export would be
a live link in the administrator's spreadsheet. Such cells are written with a leading ``'``
(which spreadsheets show as text and hide), and read back without it, so ``halo-gate plan``
reads an export exactly as it was. A value that already begins with quotes before one of those
characters gets one more, so every value survives the round trip.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _formula_like(value: str) -> bool:
    return value.lstrip(QUOTE).startswith(FORMULA_STARTS)


def neutralise(value: str) -> str:
    """The cell to write for ``value``: prefixed with ``'`` where a spreadsheet would see a
    formula."""
    return QUOTE + value if _formula_like(value) else value


def restore(cell: str) -> str:
    """The value a cell written by :func:`neutralise` stands for."""
    return cell[1:] if cell.startswith(QUOTE) and _formula_like(cell[1:]) else cell
