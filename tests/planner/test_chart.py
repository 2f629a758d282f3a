"""The sparkline and the SVG keep peaks: a short burst is never averaged away."""

from __future__ import annotations

from xml.etree import ElementTree

import numpy as np

from halo_gate.planner.chart import bucket_peaks, sparkline, svg_chart, within


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


def test_held_out_weeks_are_shaded_and_refusals_ticked() -> None:
    peaks = np.array([1, 5, 2, 4], dtype=np.int64)
    # Buckets of 100 s over [0, 400): only those whose middle lies in [100, 300) are kept.
    assert within(peaks, 0, 400, 100, 300).tolist() == [0, 5, 2, 0]
    marks = [40000, 40001]
    svg = svg_chart(
        [("held out", "#b8860b", peaks)], 0, 86400, 3, "t", bands=[(100, 300)], marks=marks
    )
    root = ElementTree.fromstring(svg)
    shaded = [e for e in root.iter() if e.tag.endswith("rect") and e.get("fill") == "#f4efe1"]
    assert len(shaded) == 1 and float(shaded[0].get("width", "0")) > 0
    # Two refusals a second apart share a tick at this width.
    ticks = [e for e in root.iter() if e.tag.endswith("line") and e.get("stroke") == "#c00"]
    assert len(ticks) == 2  # the pool's dashed line and one tick
