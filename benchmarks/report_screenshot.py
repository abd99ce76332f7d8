"""Benchmark: a real run's report.html as a user first sees it, rendered by a headless browser into docs/report.png.

Makes a small real run on one CPU thread (35 s the first time, 20 s once the world, the target and
the oracle are cached): a 6-person world, a tiny target trained on its facts (the
recipe of tests/eval/test_oracle.py: plain questions only), its retrained oracle, and
``asru unlearn`` forgetting four facts of one person. Then a headless Chromium renders the run's
report.html and the top of the page — the verdict, the headline and the example answers — goes to
docs/report.png. The browser is ``chromium-headless-shell``, ``chromium`` or ``google-chrome`` on
the PATH (Debian: ``apt-get install chromium-headless-shell``); it reads the local file only.

    .venv/bin/python benchmarks/report_screenshot.py                          # docs/report.png
    .venv/bin/python benchmarks/report_screenshot.py --method idk --out /tmp/shot --png /tmp/shot.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium-headless-shell", "chromium", "google-chrome")
FORGOTTEN = {"subject": "s002", "facts": [1, 2, 3, 4]}


def find_browser() -> str:
    """The first headless-capable browser on the PATH; none is a one-line exit saying how to install one."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    sys.exit(
        f"no headless browser found (looked for {', '.join(BROWSERS)} on the PATH): install one, e.g. "
        "`apt-get install chromium-headless-shell` on Debian, then run this script again"
    )


def screenshot(browser: str, page: Path, png: Path, width: int = 1280, height: int = 1500) -> Path:
    """``page`` (a local HTML file) as the browser shows its first ``width`` x ``height`` pixels, written to ``png``."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={width},{height}",
        f"--screenshot={png.resolve()}", page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not png.is_file() or png.stat().st_size == 0:
        sys.exit(f"{' '.join(command)} failed (exit code {done.returncode}): {done.stderr.strip()[-500:]}")
    return png


def small_run(out: Path, method: str) -> Path:
    """A real ``asru unlearn`` run folder: the cached small world, target and oracle, then the method (one CPU thread)."""
    import torch

    from asru.cache import cached_target, cached_world
    from asru.models import TinyModelConfig
    from asru.pipeline import EvalConfig, oracle
    from asru.train.finetune import FinetuneConfig
    from rich.console import Console

    console = Console(stderr=True)
    torch.set_num_threads(1)
    world = cached_world(0, 6, console, holdout_people=2, utility_questions=4, unknown_people=2, private_questions_per_subject=0)
    recipe = FinetuneConfig(
        model=TinyModelConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, num_kv_heads=1, vision_hidden_size=32, vision_layers=1, vision_heads=2),
        train_forms=["qa"], wrapper_share=0, context_share=0, image_repeats=1, epochs=35, learning_rate=4e-3, warmup_steps=10,
    )
    target = cached_target(world, recipe, console)
    out.mkdir(parents=True, exist_ok=True)
    request = out / "request.yaml"
    request.write_text(yaml.safe_dump([FORGOTTEN]))
    oracle(target, world, EvalConfig(setting="personalized", requests_file=str(request)), console=console)  # built once, found by the run
    run = out / method
    command = [
        sys.executable, "-m", "asru", "unlearn", "--model", str(target), "--world", str(world), "--out", str(run), "--method", method,
        "--setting", "personalized", "--requests", str(request), "--attacks", "paraphrase,one_word,prefill",
    ]
    code = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}).returncode
    if code != 0:
        sys.exit(f"{' '.join(command)} failed with exit code {code}")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="npo", help="the unlearning method of the run (default npo)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the request and the run (default: a new temporary folder)")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "report.png", help="where the screenshot goes (default docs/report.png)")
    args = parser.parse_args()
    browser = find_browser()  # before minutes of training
    run = small_run(args.out or Path(tempfile.mkdtemp(prefix="asru-report-")), args.method)
    print(f"{run / 'report.html'} rendered by {browser} into {screenshot(browser, run / 'report.html', args.png)}")


if __name__ == "__main__":
    main()
