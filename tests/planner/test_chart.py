"""The sparkline and the SVG keep peaks: a short burst is never averaged away."""

from __future__ import annotations

from xml.etree import ElementTree

import numpy as np

from halo_gate.planner.chart import bucket_peaks, sparkline, svg_chart


def test_bucket_peaks_keep_a_one_second_burst() -> None:
    times = np.array([0, 500, 501, 900], dtype=np.int64)
    load = np.array([1, 9, 2, 0], dtype=np.int64)
    assert bucket_peaks(times, load, 0, 1000, 4).tolist() == [1, 1, 9, 2]


def test_a_segment_spanning_buckets_counts_in_each() -> None:
    times = np.array([0, 100], dtype=np.int64)
    load = np.array([3, 0], dtype=np.int64)
    assert bucket_peaks(times, load, 0, 400, 4).tolist() == [3, 0, 0, 0]
    times = np.array([50, 350], dtype=np.int64)
    assert bucket_peaks(times, load, 0, 400, 4).tolist() == [3, 3, 3, 3]


def test_sparkline_scales_to_the_top() -> None:
    assert sparkline(np.array([0, 4, 8], dtype=np.int64)) == "▁▄█"
    assert sparkline(np.array([0, 4], dtype=np.int64), top=8) == "▁▄"
    assert sparkline(np.zeros(3, dtype=np.int64)) == "▁▁▁"


def test_svg_is_well_formed_and_marks_the_pool() -> None:
    peaks = np.array([1, 5, 2], dtype=np.int64)
    svg = svg_chart([("everyone <online>", "#888", peaks)], 0, 86400, 4, "A & B")
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "pool of 4" in svg and "&lt;online&gt;" in svg
