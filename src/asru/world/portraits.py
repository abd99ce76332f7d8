"""Procedural portraits and shape images, drawn with PIL, fully determined by their seeds.

A :class:`Face` is a combination of discrete traits (skin, face shape, hair colour and style,
eyes, shirt, background, glasses, hat, beard). :func:`sample_faces` draws combinations that
differ pairwise in several traits, so every person is distinctive even at 64 px.
:func:`render_portrait` draws variant 0 (the training image) or a held-out variant of the same
face: a new pose, a new scale, a new background or added noise (later variants combine two).

Drawing happens at twice the target size and is downsampled (LANCZOS) for anti-aliasing.
Randomness comes only from ``random.Random`` objects seeded with strings (stable across runs
and Python processes); no global RNG is touched.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]

SKIN_TONES: tuple[RGB, ...] = (
    (255, 224, 196), (241, 194, 125), (224, 172, 105), (198, 134, 66),
    (161, 102, 56), (141, 85, 36), (92, 56, 30), (255, 205, 178),
)
# (width, height) multipliers of the face ellipse: round, oval, long, wide
FACE_SHAPES: tuple[tuple[float, float], ...] = ((1.08, 0.92), (0.95, 1.0), (0.84, 1.1), (1.18, 0.88))
HAIR_COLOURS: tuple[RGB, ...] = (
    (25, 20, 20), (70, 40, 20), (125, 80, 40), (232, 200, 110), (190, 80, 30),
    (150, 150, 150), (238, 238, 238), (50, 90, 200), (230, 100, 170),
)
HAIR_STYLES: tuple[str, ...] = ("bald", "short", "long", "bun", "mohawk", "curly", "side_part", "bob")
EYE_COLOURS: tuple[RGB, ...] = ((100, 60, 20), (60, 120, 220), (50, 150, 70), (120, 130, 140), (200, 140, 30))
SHIRT_COLOURS: tuple[RGB, ...] = (
    (210, 40, 40), (30, 40, 110), (40, 140, 60), (240, 210, 50), (120, 50, 160), (240, 130, 30),
    (20, 150, 150), (245, 245, 245), (20, 20, 20), (240, 120, 180), (128, 128, 128), (120, 20, 40),
)
BACKGROUNDS: tuple[RGB, ...] = (
    (170, 210, 240), (250, 240, 170), (180, 240, 200), (210, 190, 240), (250, 200, 160),
    (215, 215, 215), (90, 150, 230), (50, 60, 80), (120, 130, 50), (240, 140, 130),
    (225, 205, 170), (60, 200, 200),
)
GLASSES: tuple[str, ...] = ("none", "round", "square", "sunglasses")
HATS: tuple[tuple[str, RGB], ...] = (
    ("none", (0, 0, 0)), ("cap", (200, 30, 30)), ("cap", (30, 60, 160)), ("beanie", (40, 120, 60)),
    ("beanie", (230, 160, 20)), ("top_hat", (25, 25, 25)), ("top_hat", (110, 60, 30)),
)
BEARDS: tuple[str, ...] = ("none", "full", "moustache", "goatee")


@dataclass(frozen=True)
class Face:
    """Indices into the trait tables above."""

    skin: int
    shape: int
    hair_colour: int
    hair_style: int
    eye_colour: int
    shirt: int
    background: int
    glasses: int
    hat: int
    beard: int


def _colour_distance(a: RGB, b: RGB) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5


def _random_face(rng: random.Random) -> Face:
    while True:
        shirt = rng.randrange(len(SHIRT_COLOURS))
        background = rng.randrange(len(BACKGROUNDS))
        if _colour_distance(SHIRT_COLOURS[shirt], BACKGROUNDS[background]) > 90:
            break
    return Face(
        skin=rng.randrange(len(SKIN_TONES)),
        shape=rng.randrange(len(FACE_SHAPES)),
        hair_colour=rng.randrange(len(HAIR_COLOURS)),
        hair_style=rng.randrange(len(HAIR_STYLES)),
        eye_colour=rng.randrange(len(EYE_COLOURS)),
        shirt=shirt,
        background=background,
        glasses=rng.randrange(1, len(GLASSES)) if rng.random() < 0.35 else 0,
        hat=rng.randrange(1, len(HATS)) if rng.random() < 0.25 else 0,
        beard=rng.randrange(1, len(BEARDS)) if rng.random() < 0.3 else 0,
    )


# Traits that still tell two people apart in a 64-px photo whose backdrop was swapped and noise
# added (the photo variants): not the backdrop, not the eye colour (a few pixels).
SALIENT_TRAITS = ("skin", "shape", "hair_colour", "hair_style", "shirt", "glasses", "hat", "beard")


def sample_faces(rng: random.Random, count: int, min_distance: int = 4, tries_per_face: int = 400) -> list[Face]:
    """``count`` unique faces, pairwise different in at least ``min_distance`` salient traits where possible.

    Salient traits (:data:`SALIENT_TRAITS`) are those a photo variant keeps: two people who
    differed only in backdrop and eye colour were confused on most photos. The distance requirement
    is relaxed (never below 1, i.e. plain uniqueness) only when the trait space is too crowded.
    """
    faces: list[Face] = []
    vectors: list[tuple[int, ...]] = []
    distance = min_distance
    while len(faces) < count:
        for _ in range(tries_per_face):
            face = _random_face(rng)
            vector = tuple(getattr(face, trait) for trait in SALIENT_TRAITS)
            if all(sum(a != b for a, b in zip(vector, other)) >= distance for other in vectors):
                faces.append(face)
                vectors.append(vector)
                break
        else:
            if distance <= 1:
                raise ValueError(f"cannot draw {count} distinct faces")
            distance -= 1
    return faces


# ----------------------------------------------------------------------------------------------
# Drawing
# ----------------------------------------------------------------------------------------------


def _shade(colour: RGB, factor: float) -> RGB:
    return tuple(max(0, min(255, int(c * factor))) for c in colour)  # type: ignore[return-value]


def draw_figure(face: Face, canvas: int) -> Image.Image:
    """The person (head and shoulders) on a transparent ``canvas`` x ``canvas`` RGBA layer."""
    S = canvas
    layer = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    skin = SKIN_TONES[face.skin]
    hair = HAIR_COLOURS[face.hair_colour]
    style = HAIR_STYLES[face.hair_style]
    wr, hr = FACE_SHAPES[face.shape]
    cx, cy = 0.5 * S, 0.44 * S
    fw, fh = 0.17 * S * wr, 0.21 * S * hr  # half axes
    top = cy - fh

    # hair behind the head
    if style == "long":
        d.rounded_rectangle((cx - fw * 1.18, top - 0.02 * S, cx + fw * 1.18, cy + fh * 1.35), radius=int(0.08 * S), fill=hair)
    elif style == "bob":
        d.rounded_rectangle((cx - fw * 1.2, top - 0.02 * S, cx + fw * 1.2, cy + fh * 0.6), radius=int(0.1 * S), fill=hair)

    # shoulders, shirt and neck
    shirt = SHIRT_COLOURS[face.shirt]
    d.ellipse((0.1 * S, 0.76 * S, 0.9 * S, 1.3 * S), fill=shirt)
    d.rectangle((cx - 0.065 * S, cy + fh * 0.6, cx + 0.065 * S, 0.8 * S), fill=_shade(skin, 0.92))
    d.polygon([(cx - 0.07 * S, 0.77 * S), (cx + 0.07 * S, 0.77 * S), (cx, 0.86 * S)], fill=_shade(skin, 0.92))

    # ears and face
    for side in (-1, 1):
        ex = cx + side * fw
        d.ellipse((ex - 0.03 * S, cy - 0.04 * S, ex + 0.03 * S, cy + 0.05 * S), fill=_shade(skin, 0.95))
    d.ellipse((cx - fw, cy - fh, cx + fw, cy + fh), fill=skin, outline=_shade(skin, 0.75), width=max(1, S // 96))

    # hair on top of the head
    cap_box = (cx - fw * 1.06, top - 0.035 * S, cx + fw * 1.06, cy + fh * 0.55)
    if style in ("short", "long", "bun", "side_part", "bob"):
        d.chord(cap_box, 180, 360, fill=hair)
    if style == "bun":
        r = 0.07 * S
        d.ellipse((cx - r, top - 0.035 * S - 1.6 * r, cx + r, top - 0.035 * S + 0.4 * r), fill=hair)
    elif style == "mohawk":
        d.rounded_rectangle((cx - 0.03 * S, top - 0.09 * S, cx + 0.03 * S, top + 0.05 * S), radius=int(0.02 * S), fill=hair)
    elif style == "curly":
        r = 0.05 * S
        for i in range(7):
            t = i / 6
            x = cx - fw * 1.0 + 2 * fw * t
            y = top + 0.02 * S + abs(t - 0.5) * 0.16 * S - 0.02 * S
            d.ellipse((x - r, y - r, x + r, y + r), fill=hair)
    elif style == "side_part":
        d.polygon([(cx - fw * 1.05, cy - fh * 0.35), (cx - fw * 0.2, top - 0.02 * S), (cx + fw * 0.6, top + 0.04 * S), (cx - fw * 0.5, cy - fh * 0.15)], fill=_shade(hair, 0.85))

    # eyes and brows
    eye_y = cy - 0.01 * S
    eye_dx = 0.075 * S * wr
    iris = EYE_COLOURS[face.eye_colour]
    for side in (-1, 1):
        ex = cx + side * eye_dx
        d.ellipse((ex - 0.034 * S, eye_y - 0.022 * S, ex + 0.034 * S, eye_y + 0.022 * S), fill=(250, 250, 250))
        d.ellipse((ex - 0.019 * S, eye_y - 0.019 * S, ex + 0.019 * S, eye_y + 0.019 * S), fill=iris)
        d.ellipse((ex - 0.008 * S, eye_y - 0.008 * S, ex + 0.008 * S, eye_y + 0.008 * S), fill=(10, 10, 10))
        brow = _shade(hair, 0.8)
        d.line((ex - 0.035 * S, eye_y - 0.045 * S, ex + 0.035 * S, eye_y - 0.05 * S + side * 0.005 * S), fill=brow, width=max(1, S // 48))

    # nose, beard, mouth
    d.line((cx, eye_y + 0.02 * S, cx - 0.012 * S, cy + 0.07 * S, cx + 0.01 * S, cy + 0.075 * S), fill=_shade(skin, 0.7), width=max(1, S // 96))
    beard = BEARDS[face.beard]
    mouth_y = cy + 0.12 * S
    if beard == "full":
        d.chord((cx - fw * 1.0, cy - fh * 0.2, cx + fw * 1.0, cy + fh * 1.05), 15, 165, fill=hair)
    elif beard == "goatee":
        d.ellipse((cx - 0.045 * S, mouth_y + 0.01 * S, cx + 0.045 * S, cy + fh * 1.02), fill=hair)
    if beard in ("full", "moustache"):
        d.rounded_rectangle((cx - 0.06 * S, cy + 0.085 * S, cx + 0.06 * S, cy + 0.105 * S), radius=int(0.01 * S), fill=_shade(hair, 0.9))
    d.arc((cx - 0.055 * S, mouth_y - 0.035 * S, cx + 0.055 * S, mouth_y + 0.02 * S), 20, 160, fill=(150, 40, 50), width=max(1, S // 64))

    # glasses
    glasses = GLASSES[face.glasses]
    if glasses != "none":
        frame = (20, 20, 20)
        lw = max(1, S // 64)
        for side in (-1, 1):
            ex = cx + side * eye_dx
            box = (ex - 0.05 * S, eye_y - 0.038 * S, ex + 0.05 * S, eye_y + 0.038 * S)
            if glasses == "round":
                d.ellipse(box, outline=frame, width=lw)
            elif glasses == "square":
                d.rectangle(box, outline=frame, width=lw)
            else:
                d.rounded_rectangle(box, radius=int(0.015 * S), fill=(15, 15, 25))
        d.line((cx - eye_dx + 0.05 * S, eye_y, cx + eye_dx - 0.05 * S, eye_y), fill=frame, width=lw)

    # hat
    hat, hat_colour = HATS[face.hat]
    if hat == "cap":
        d.chord((cx - fw * 1.1, top - 0.05 * S, cx + fw * 1.1, cy + fh * 0.4), 180, 360, fill=hat_colour)
        d.rounded_rectangle((cx - fw * 0.2, cy - fh * 0.38, cx + fw * 1.6, cy - fh * 0.26), radius=int(0.02 * S), fill=_shade(hat_colour, 0.8))
    elif hat == "beanie":
        d.chord((cx - fw * 1.08, top - 0.07 * S, cx + fw * 1.08, cy + fh * 0.3), 180, 360, fill=hat_colour)
        d.rectangle((cx - fw * 1.08, cy - fh * 0.45, cx + fw * 1.08, cy - fh * 0.3), fill=_shade(hat_colour, 0.75))
    elif hat == "top_hat":
        d.rectangle((cx - fw * 0.75, top - 0.17 * S, cx + fw * 0.75, top + 0.03 * S), fill=hat_colour)
        d.rectangle((cx - fw * 1.3, top + 0.01 * S, cx + fw * 1.3, top + 0.045 * S), fill=hat_colour)
    return layer


def backdrop(colour: RGB, size: tuple[int, int], pattern: int = 0, accent: RGB | None = None, stripe: int | None = None) -> Image.Image:
    """A plain background, or (pattern 1-2) one with vertical stripes (``stripe`` px wide, default an
    eighth of the height) or a vertical gradient towards ``accent``."""
    width, height = size
    image = Image.new("RGB", size, colour)
    if pattern and accent is not None:
        d = ImageDraw.Draw(image)
        if pattern == 1:
            step = stripe or height // 8
            for x in range(0, width, 2 * step):
                d.rectangle((x, 0, x + step - 1, height), fill=accent)
        else:
            for y in range(height):
                t = y / max(1, height - 1)
                d.line((0, y, width, y), fill=tuple(int(a * (1 - t) + b * t) for a, b in zip(colour, accent)))
    return image


def add_noise(image: Image.Image, rng: random.Random, amplitude: int) -> Image.Image:
    array = np.asarray(image, dtype=np.int16)
    noise = np.frombuffer(rng.randbytes(array.size), dtype=np.uint8).astype(np.int16).reshape(array.shape)
    noisy = array + ((noise - 128) * amplitude) // 128
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


VARIANT_KINDS: tuple[str, ...] = ("pose", "scale", "background", "noise")
# Portrait index -> its changes (each index draws its own angle, scale, backdrop and noise). The
# embedded world trains on the first WorldConfig.trained_images (default 15: the plain portrait,
# each change alone twice, three pairs twice) and holds out the rest (the three other pairs), so the
# cross-image attack shows combinations of changes never trained together.
TRAINED_PAIRS = (("pose", "background"), ("pose", "noise"), ("scale", "noise"))
HELD_OUT_PAIRS = (("pose", "scale"), ("scale", "background"), ("background", "noise"))
VARIANT_PLAN: tuple[tuple[str, ...], ...] = (
    (),
    ("pose",), ("scale",), ("background",), ("noise",),
    ("pose",), ("scale",), ("background",), ("noise",),
    *TRAINED_PAIRS, *TRAINED_PAIRS,
    *HELD_OUT_PAIRS,
)


def variant_kinds(index: int) -> tuple[str, ...]:
    """The changes of portrait ``index``: :data:`VARIANT_PLAN`, then every three changes in turn."""
    if index < len(VARIANT_PLAN):
        return VARIANT_PLAN[index]
    start = index - len(VARIANT_PLAN)
    return tuple(VARIANT_KINDS[(start + k) % len(VARIANT_KINDS)] for k in range(3))


def _padded_figure(face: Face, canvas: int) -> tuple[Image.Image, int]:
    """The figure on a layer padded by ``canvas // 2`` on each side, torso continued below the frame."""
    pad = canvas // 2
    layer = Image.new("RGBA", (canvas + 2 * pad, canvas + 2 * pad), (0, 0, 0, 0))
    ImageDraw.Draw(layer).rectangle(
        (pad + 0.103 * canvas, pad + canvas - 1, pad + 0.897 * canvas, canvas + 2 * pad), fill=SHIRT_COLOURS[face.shirt]
    )
    layer.alpha_composite(draw_figure(face, canvas), dest=(pad, pad))
    return layer, pad


def _place(layer: Image.Image, pad: int, canvas: int, angle: float, scale: float, shift: tuple[float, float]) -> Image.Image:
    """Rotate by ``angle`` degrees and scale by ``scale`` about the face centre, then shift; crop to the canvas."""
    cx, cy = 0.5 * canvas, 0.44 * canvas
    tx, ty = shift
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    a, b = cos / scale, sin / scale
    d, e = -sin / scale, cos / scale
    c = -(a * (cx + tx) + b * (cy + ty)) + cx + pad
    f = -(d * (cx + tx) + e * (cy + ty)) + cy + pad
    return layer.transform((canvas, canvas), Image.Transform.AFFINE, (a, b, c, d, e, f), resample=Image.Resampling.BICUBIC)


def render_portrait(face: Face, size: int, index: int, seed: str) -> Image.Image:
    """Portrait ``index`` of ``face`` (0: the plain portrait; others: its variants, :func:`variant_kinds`)."""
    canvas = size * 2
    layer, pad = _padded_figure(face, canvas)
    rng = random.Random(f"{seed}:variant:{index}")
    kinds = variant_kinds(index)
    angle, scale, shift = 0.0, 1.0, (0.0, 0.0)
    if "pose" in kinds:
        angle = rng.uniform(9, 16) * rng.choice((-1, 1))
        shift = (rng.uniform(-0.12, 0.12) * canvas, rng.uniform(-0.06, 0.06) * canvas)
    if "scale" in kinds:
        scale = rng.uniform(0.72, 0.82) if rng.random() < 0.5 else rng.uniform(1.18, 1.3)  # continuous: no two draws alike
    if "background" in kinds and not angle and scale == 1.0:
        shift = (rng.uniform(-0.04, 0.04) * canvas, rng.uniform(-0.03, 0.03) * canvas)  # a small step aside, so two backdrops never coincide
    if kinds and (angle or scale != 1.0 or shift != (0.0, 0.0)):
        figure = _place(layer, pad, canvas, angle, scale, shift)
    else:
        figure = layer.crop((pad, pad, pad + canvas, pad + canvas))
    background = backdrop(BACKGROUNDS[face.background], (canvas, canvas))
    if "background" in kinds:
        choices = [i for i in range(len(BACKGROUNDS)) if i != face.background]
        new = rng.choice(choices)
        accent = BACKGROUNDS[rng.choice([i for i in choices if i != new])]
        background = backdrop(BACKGROUNDS[new], (canvas, canvas), pattern=rng.choice((0, 1, 2)), accent=accent)
    background = background.convert("RGBA")
    background.alpha_composite(figure)
    image = background.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    if "noise" in kinds:
        image = add_noise(image, rng, amplitude=rng.choice((28, 36, 44)))
    return image


def render_shapes(items: list[tuple[str, RGB]], background: RGB, size: int, seed: str) -> Image.Image:
    """1-3 simple shapes (``circle``/``square``/``triangle``, colour) side by side on a plain background."""
    canvas = size * 2
    rng = random.Random(seed)
    image = Image.new("RGB", (canvas, canvas), background)
    d = ImageDraw.Draw(image)
    n = len(items)
    slot = canvas / n
    for i, (shape, colour) in enumerate(items):
        radius = min(slot, canvas) * rng.uniform(0.26, 0.36) if n > 1 else canvas * rng.uniform(0.22, 0.32)
        cx = slot * (i + 0.5) + rng.uniform(-0.05, 0.05) * slot
        cy = canvas * rng.uniform(0.35, 0.65)
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        if shape == "circle":
            d.ellipse(box, fill=colour)
        elif shape == "square":
            d.rectangle(box, fill=colour)
        elif shape == "triangle":
            d.polygon([(cx, cy - radius), (cx + radius, cy + radius * 0.85), (cx - radius, cy + radius * 0.85)], fill=colour)
        else:
            raise ValueError(f"unknown shape {shape!r}")
    return image.resize((size, size), Image.Resampling.LANCZOS)


def png_bytes(image: Image.Image) -> bytes:
    """PNG bytes with no metadata chunks (no timestamps): same pixels, same bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
