from asru.eval.settings import make_splits
from asru.models import load_vlm
from asru.steering.sweep import layer_sweep


def test_layer_sweep_reports_every_layer_and_picks_one(tiny_world, tiny_model_dir):
    model, processor = load_vlm(tiny_model_dir)
    splits = make_splits(tiny_world, "complete", forget_ratio=0.34)
    result = layer_sweep(model, processor, tiny_world, splits, max_prompts=8)
    assert [row["layer"] for row in result["layers"]] == [0, 1]
    for row in result["layers"]:
        assert 0.0 <= row["separation"] <= 1.0 and 0.0 <= row["flip_rate"] <= 1.0 and row["direction_norm"] > 0
    assert result["best_layer"] in (0, 1)
