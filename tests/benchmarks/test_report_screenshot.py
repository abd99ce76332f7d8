"""benchmarks/report_screenshot.py: a report.html rendered by the headless browser, or one line saying how to install one."""

from __future__ import annotations

import struct

import pytest
from conftest import benchmark_script  # tests/conftest.py

from asru.report.writer import write_run


def _module():
    return benchmark_script("report_screenshot")


def test_without_a_browser_it_says_how_to_install_one(monkeypatch):
    module = _module()
    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit) as info:
        module.find_browser()
    assert "no headless browser found" in str(info.value) and "apt-get install chromium-headless-shell" in str(info.value)


def test_a_report_is_rendered_to_a_png_of_the_window_size(tmp_path):
    module = _module()
    browser = next((found for name in module.BROWSERS if (found := module.shutil.which(name))), None)
    if browser is None:
        pytest.skip("no headless browser installed (apt-get install chromium-headless-shell)")
    results = {
        "method": "npo", "setting": "complete", "model": "t", "world": {"path": "w", "hash": None}, "requests": [{"subject_id": "s000", "fact_ids": [1]}],
        "metrics": {"forget": {"all": {"n": 1, "leakage": 0.0, "leakage_known": 0.0, "n_known": 1}}},
    }
    write_run(tmp_path, results, [{"split": "forget", "id": "s000-f1-text-qa", "question": "Where?", "gold": "Lisbon", "pred": "I can't say.", "target_answer": "Lisbon."}])
    png = module.screenshot(browser, tmp_path / "report.html", tmp_path / "shot" / "report.png", width=640, height=480)
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (640, 480)
