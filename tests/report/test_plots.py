"""asru.report.plots: the judge-scale bars draw, and stay quiet where nothing is judged yet."""

import warnings

from asru.report.plots import plot_quality_bars


def test_quality_bars_draw_the_scales_and_an_unjudged_table_warns_nothing(tmp_path):
    judged = plot_quality_bars({"complete": {"asru": {"naturalness": (4.5, 0.1), "contextual refusal": (4.0, None)}}}, tmp_path / "bars.png")
    assert judged.is_file() and judged.stat().st_size > 1000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        empty = plot_quality_bars({"complete": {"target": {}, "oracle": {}}}, tmp_path / "empty.png")
    assert empty.is_file() and not [w for w in caught if "legend" in str(w.message)], [str(w.message) for w in caught]
