"""asru.report.plots: the judge-scale bars draw, and stay quiet where nothing is judged yet."""

import warnings

import pytest

from asru.report.plots import plot_quality_bars, plot_scores, score_points


def test_quality_bars_draw_the_scales_and_an_unjudged_table_warns_nothing(tmp_path):
    judged = plot_quality_bars({"complete": {"asru": {"naturalness": (4.5, 0.1), "contextual refusal": (4.0, None)}}}, tmp_path / "bars.png")
    assert judged.is_file() and judged.stat().st_size > 1000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        empty = plot_quality_bars({"complete": {"target": {}, "oracle": {}}}, tmp_path / "empty.png")
    assert empty.is_file() and not [w for w in caught if "legend" in str(w.message)], [str(w.message) for w in caught]


def test_the_score_plot_puts_the_best_method_first_and_the_references_last(tmp_path):
    rows = {"target": (0.0, 0.0), "oracle": (0.98, 0.02), "npo": (0.84, 0.06), "asru": (0.88, None), "rmu": (None, None)}
    points = score_points(rows)
    assert [point[0] for point in points] == ["asru", "npo", "oracle", "target"]  # rmu has no score yet
    assert points[1][1:] == pytest.approx((0.84, 0.78, 0.90)) and points[0][2:] == (0.88, 0.88)
    drawn = plot_scores({"complete": rows, "selective": {"asru": (0.77, 0.09)}}, tmp_path / "scores.png")
    assert drawn.is_file() and drawn.stat().st_size > 1000
