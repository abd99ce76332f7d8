"""Bad input through the CLI: every case is one line naming the file, line or option, exit code 2.

Images: truncated, not an image, decompression bombs and oversized images are clear errors; other
modes (palette, 16-bit, CMYK, transparency) are converted, not refused.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error  # tests/conftest.py


@pytest.fixture
def world_copy(tiny_world, tmp_path):
    folder = tmp_path / "world"
    shutil.copytree(tiny_world.root, folder)
    return folder


def images(world: Path) -> list[Path]:
    return sorted((world / "images").glob("*.png"))


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels in a few bytes (what a decompression bomb looks like to a reader)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[: len(data) // 2], "unreadable image"),  # truncated
        (lambda data: b"", "unreadable image"),  # empty file
        (lambda data: b"<html>not an image</html>", "unreadable image"),
        (lambda data: png_header(30_000, 30_000), "decompression bomb"),
        (lambda data: png_header(5_000, 5_000), "exceeds the limit"),
    ],
    ids=["truncated", "empty", "not-an-image", "bomb", "oversized"],
)
def test_bad_image_files(damage, message, world_copy, tiny_model_dir, tmp_path, cli):
    for path in images(world_copy):
        path.write_bytes(damage(path.read_bytes()))
    code, _, err = cli("eval", tiny_model_dir, "--world", world_copy, "--out", tmp_path / "run")
    assert_one_line_error(code, err, str(world_copy / "images"), ".png", message)


def test_images_in_other_modes_are_converted(world_copy, tiny_model_dir, tmp_path, cli):
    """Palette, palette with transparency, 16-bit grey, CMYK (JPEG bytes), RGBA, LA and 1-bit images all evaluate."""
    for index, path in enumerate(images(world_copy)):
        rgb = Image.open(path).convert("RGB")
        kind = index % 7
        if kind == 0:
            rgb.convert("P").save(path, format="PNG")
        elif kind == 1:
            rgb.convert("P").save(path, format="PNG", transparency=0)
        elif kind == 2:
            grey = np.asarray(rgb.convert("L"), dtype=np.uint16) * 257
            Image.fromarray(grey).save(path, format="PNG")
        elif kind == 3:
            rgb.convert("CMYK").save(path, format="JPEG")
        elif kind == 4:
            rgb.convert("RGBA").save(path, format="PNG")
        elif kind == 5:
            rgb.convert("LA").save(path, format="PNG")
        else:
            rgb.convert("1").save(path, format="PNG")
    code, _, err = cli("eval", tiny_model_dir, "--world", world_copy, "--out", tmp_path / "run", "--forget-ratio", "0.34")
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "results.json").read_text())["metrics"]["forget"]["all"]["n"] > 0


def test_mode_conversion_keeps_what_a_viewer_shows(tmp_path):
    from asru.data.collate import Encoder

    def saved(image: Image.Image, name: str, **kwargs) -> str:
        image.save(tmp_path / name, **kwargs)
        return name

    encoder = Encoder.__new__(Encoder)  # only load_image is used: no processor needed
    encoder.root, encoder.max_image_pixels, encoder._images = tmp_path, 64 * 64, {}
    grey16 = Image.fromarray(np.full((8, 8), 32896, dtype=np.uint16))  # mid-grey in 16 bits
    assert encoder.load_image(saved(grey16, "grey16.png")).getpixel((0, 0)) == (128, 128, 128)  # not clipped to white
    red = Image.new("RGB", (8, 8), (200, 10, 10))
    assert encoder.load_image(saved(red.convert("P", palette=Image.Palette.ADAPTIVE), "palette.png")).getpixel((0, 0)) == (200, 10, 10)
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    assert encoder.load_image(saved(clear, "clear.png")).getpixel((0, 0)) == (255, 255, 255)  # transparent on white
    cmyk = encoder.load_image(saved(red.convert("CMYK"), "cmyk.jpg", quality=100))
    assert cmyk.mode == "RGB" and abs(cmyk.getpixel((0, 0))[0] - 200) < 8


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("- method: ga\n", ["bad.yaml", "expected a mapping of config fields, got list"]),
        ("steps: many\n", ["bad.yaml", "field 'steps'"]),
        ("method_args: 3\n", ["bad.yaml", "field 'method_args'"]),
        ("method: ga\nsteps: [1\n", ["bad.yaml:3", "invalid YAML"]),
        ("!!python/object/apply:os.system ['true']\n", ["bad.yaml:1", "invalid YAML"]),
        (b"steps: \xff\n", ["bad.yaml", "not UTF-8"]),
        ("method: npo\nmethod_args: {betta: 1}\n", ["method_args of 'npo'", "betta"]),
    ],
    ids=["list", "wrong-type", "args-not-mapping", "syntax", "python-tag", "not-utf8", "unknown-method-arg"],
)
def test_bad_config_files(text, fragments, tiny_world, tiny_model_dir, tmp_path, cli):
    config = tmp_path / "bad.yaml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--config", config)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "options, fragments",
    [
        (["--setting", "partial"], ["options", "field 'setting'"]),
        (["--forget-ratio", "1.5"], ["options", "field 'forget_ratio'"]),
        (["--steps", "0"], ["options", "field 'steps'"]),
        (["--attacks", "paraphrase,telepathy"], ["option --attacks", "unknown attack 'telepathy'"]),
        (["--method", "magic"], ["unknown method 'magic'"]),
    ],
)
def test_bad_options(options, fragments, tiny_world, tiny_model_dir, tmp_path, cli):
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", *options)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "requests, fragments",
    [
        ("- subject: Nobody Atall\n  facts: all\n", ["unknown subject 'Nobody Atall'"]),
        ("- subject: s000\n  facts: [shoe_size]\n", ["unknown fact 'shoe_size'"]),
        ("- subject: s000\n  facts: [99]\n", ["unknown fact id 99"]),
        ("[]\n", ["requests.yaml", "no deletion requests"]),
        ("- subject: s000\n", ["requests.yaml", "request 1", "field 'facts'"]),
        ("- subject: s000\n  facts: all\n  when: now\n", ["requests.yaml", "field 'when'"]),
    ],
    ids=["unknown-subject", "unknown-fact", "unknown-fact-id", "empty", "missing-facts", "unknown-field"],
)
def test_bad_deletion_requests(requests, fragments, tiny_world, tiny_model_dir, tmp_path, cli):
    path = tmp_path / "requests.yaml"
    path.write_text(requests)
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--setting", "personalized", "--requests", path)
    assert_one_line_error(code, err, *fragments)


@pytest.mark.parametrize(
    "damage, fragments",
    [
        (lambda folder: (folder / "config.json").unlink(), ["config.json missing"]),
        (lambda folder: (folder / "config.json").write_text("[1, 2]"), ["config.json: field '(root)': expected a mapping, got list"]),
        (lambda folder: (folder / "model.safetensors").unlink(), ["no *.safetensors weights"]),
        (lambda folder: (folder / "model.safetensors").write_bytes(b"\x00" * 64), ["cannot load the model", "SafetensorError"]),
        (lambda folder: (folder / "tokenizer.json").unlink(), ["cannot load the model or its processor"]),
        (lambda folder: [p.unlink() for p in folder.glob("*processor*")], ["cannot load the model or its processor"]),
    ],
    ids=["no-config", "config-not-object", "no-weights", "corrupt-weights", "no-tokenizer", "no-processor"],
)
def test_broken_model_folders(damage, fragments, tiny_world, tiny_model_dir, tmp_path, cli):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    damage(model)
    code, _, err = cli("eval", model, "--world", tiny_world.root, "--out", tmp_path / "run")
    assert_one_line_error(code, err, str(model), *fragments)


def test_steering_on_an_architecture_without_a_layer_path(tiny_world, tiny_model_dir, tmp_path, cli, monkeypatch):
    """No table entry for the architecture: layer methods refuse before any work; others still run."""
    from asru.models import layers

    monkeypatch.delitem(layers.LANGUAGE_LAYER_PATHS, "qwen3_vl")
    for method in ("steering", "rmu", "asru_stage1"):
        code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / method, "--method", method)
        assert_one_line_error(code, err, f"method '{method}' cannot run on {tiny_model_dir}", "no known decoder-layer path for architecture 'qwen3_vl'")
        assert not (tmp_path / method).exists()


def test_layer_out_of_range(tiny_world, tiny_model_dir, tmp_path, cli):
    config = tmp_path / "c.yaml"
    config.write_text("method: rmu\nmethod_args: {layer: 7}\n")
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--config", config)
    assert_one_line_error(code, err, "method_args.layer of 'rmu': 7 is out of range", "2 decoder layers")


def test_forget_names_unlearnt_with_an_unmerged_lora_adapter(tiny_world, tiny_model_dir, tmp_path, cli):
    """The redrawn name rows live in the base model: an adapter saved unmerged would lose them, so the run refuses first."""
    config = tmp_path / "c.yaml"
    config.write_text("method: asru\nmethod_args: {forget_names: unlearnt}\nlora_r: 4\nmerge_lora: false\n")
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--config", config)
    assert_one_line_error(code, err, "method_args.forget_names: unlearnt", "merge_lora: true")
    assert not (tmp_path / "run").exists()


def test_world_folder_problems(world_copy, tiny_model_dir, tmp_path, cli):
    samples = world_copy / "samples.jsonl"
    lines = samples.read_text().splitlines()
    lines[4] = lines[4].replace('"modality": "text"', '"modality": "video"')
    samples.write_text("\n".join(lines) + "\n")
    code, _, err = cli("eval", tiny_model_dir, "--world", world_copy, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "samples.jsonl:5", "field 'modality'")
    samples.write_bytes(b"\xff\xfe garbage\n")
    code, _, err = cli("eval", tiny_model_dir, "--world", world_copy, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "samples.jsonl:1", "not UTF-8")


def test_remote_code_in_a_model_folder_is_not_run(tiny_world, tmp_path, cli):
    """trust_remote_code is off: a folder whose config points at its own Python code is refused, the code never runs."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "sneaky_vlm", "auto_map": {"AutoConfig": "modeling.SneakyConfig", "AutoModelForImageTextToText": "modeling.Sneaky"}}))
    (model / "modeling.py").write_text("from pathlib import Path\nPath(__file__).with_name('code-ran').touch()\n")
    (model / "model.safetensors").write_bytes(b"{}")
    code, _, err = cli("eval", model, "--world", tiny_world.root, "--out", tmp_path / "run")
    assert_one_line_error(code, err, str(model), "custom code")
    assert not (model / "code-ran").exists()
