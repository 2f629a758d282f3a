"""The concurrency profile as a picture: an SVG line chart written by hand, and a text sparkline.

Both take the step function of people online (``times``, ``load``) and show, per time bucket, the
highest load in it: a peak is never averaged away. The chart can also shade the held-out weeks
of a backtest and mark the moments a login would have been refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

import numpy as np

from .usage import Times

BARS = "▁▂▃▄▅▆▇█"


def bucket_peaks(times: Times, load: Times, first: int, last: int, buckets: int) -> Times:
    """The highest load in each of ``buckets`` equal slices of ``[first, last)``."""
    peaks = np.zeros(buckets, dtype=np.int64)
    if times.size == 0 or last <= first:
        return peaks
    width = (last - first) / buckets
    # A segment [times[k], times[k+1]) touches buckets from where it starts to where it ends.
    seg_end = np.append(times[1:], last)
    first_bucket = np.clip(((times - first) / width).astype(np.int64), 0, buckets - 1)
    last_bucket = np.clip((np.ceil((seg_end - first) / width) - 1).astype(np.int64), 0, buckets - 1)
    span = np.maximum(last_bucket - first_bucket + 1, 1)
    bucket = np.repeat(first_bucket, span) + (
        np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
    )
    np.maximum.at(peaks, bucket, np.repeat(load, span))
    return peaks


def sparkline(values: Times, top: int | None = None) -> str:
    """``▁▃█▅``: one character per value, scaled to ``top`` (default: the largest value)."""
    ceiling = top if top is not None else int(values.max()) if values.size else 0
    if ceiling <= 0:
        return BARS[0] * int(values.size)
    levels = np.clip(np.ceil(values / ceiling * len(BARS)).astype(np.int64) - 1, 0, len(BARS) - 1)
    return "".join(BARS[level] for level in levels)


def within(peaks: Times, first: int, last: int, begin: int, end: int) -> Times:
    """``peaks`` (buckets of ``[first, last)``) kept only where a bucket's middle lies in
    ``[begin, end)``, zero elsewhere."""
    width = (last - first) / max(peaks.size, 1)
    middles = first + width * (np.arange(peaks.size) + 0.5)
    kept: Times = np.where((middles >= begin) & (middles < end), peaks, 0)
    return kept


def svg_chart(
    series: list[tuple[str, str, Times]],
    first: int,
    last: int,
    pool: int,
    title: str,
    width: int = 960,
    height: int = 320,
    bands: Sequence[tuple[int, int]] = (),
    marks: Sequence[int] = (),
) -> str:
    """A line chart of bucket peaks: ``series`` is (label, colour, peaks); a dashed line marks
    the planned pool size; ``bands`` (start, end) are shaded, with a note; ``marks`` are
    moments ticked in red along the bottom (refused logins)."""
    left, right, top, bottom = 56, 16, 36, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max([pool, 1, *(int(values.max()) for _, _, values in series if values.size)])
    span = max(last - first, 1)

    def x(moment: float) -> float:
        return left + plot_w * min(max((moment - first) / span, 0.0), 1.0)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / highest)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="14">{escape(title)}</text>',
    ]
    for begin, end in bands:
        parts.append(
            f'<rect x="{x(begin):.1f}" y="{top}" width="{x(end) - x(begin):.1f}" '
            f'height="{plot_h}" fill="#f4efe1"><title>held out</title></rect>'
        )
    if bands:
        parts.append(
            f'<text x="{left + 4}" y="{height - 26}" fill="#8a7a4a">shaded: weeks held out, '
            f"each replayed against a plan made without it</text>"
        )
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        value = round(highest * fraction)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#ddd"/><text x="{left - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{value}</text>'
        )
    for position, moment in ((left, first), (width - right, last)):
        label = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M")
        anchor = "start" if position == left else "end"
        parts.append(
            f'<text x="{position}" y="{height - 14}" text-anchor="{anchor}">{label} UTC</text>'
        )
    # The legend sits right-aligned beside the title, each entry as wide as its label (about
    # 7 px a character at this size).
    legend_x = width - right - sum(32 + 7 * len(label) for label, _, _ in series)
    for label, colour, values in series:
        if values.size:
            step = plot_w / values.size
            points = " ".join(
                f"{left + step * (i + 0.5):.1f},{y(float(v)):.1f}" for i, v in enumerate(values)
            )
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{points}"/>'
            )
        parts.append(
            f'<rect x="{legend_x}" y="12" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="22">{escape(label)}</text>'
        )
        legend_x += 32 + 7 * len(label)
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{y(pool):.1f}" y2="{y(pool):.1f}" '
        f'stroke="#c00" stroke-dasharray="6 4"/>'
        f'<text x="{width - right - 4}" y="{y(pool) - 4:.1f}" text-anchor="end" '
        f'fill="#c00">pool of {pool}</text>'
    )
    bottom_y = top + plot_h
    for tick in sorted({round(x(moment), 1) for moment in marks}):
        parts.append(
            f'<line x1="{tick}" x2="{tick}" y1="{bottom_y}" y2="{bottom_y - 8}" '
            f'stroke="#c00"><title>a login refused</title></line>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
