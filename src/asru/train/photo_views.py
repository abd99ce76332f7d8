"""New views of the training photos, drawn afresh every step: what makes a face, not a photo, the key.

A pretrained VLM recognises a public figure from a photo it has never seen because it has seen
thousands of photos of faces. The tiny target sees only a person's training portraits, and at 40
people it bound the person to those exact pixels: 55 % on held-out photos (a new pose, scale or
backdrop in combinations never trained) while 87-97 % on the training ones. Standard data
augmentation (random rotation, scale, shift and sensor noise) gives it many photos of each face.

A second view, :func:`new_backdrop`, puts the person in front of a random backdrop. At 8 people the
target answered 89 % of the held-out photos with a new pose and scale but 43-47 % of those with a
new backdrop: with 11 of a person's 15 training photos on their own backdrop colour (12 colours
for 40 people), the colour had become part of who the person is. Replacing a plain backdrop
(the pixels of the photo's edge colour connected to its top and upper sides) with a random colour,
stripes or gradient takes that cue away. Measured on the demo world it made the tiny tower worse
everywhere (image QA 97 -> 78 % at 0.25, unseen photos 60 -> 57 %): without the backdrop it did
not learn the faces in the recipe's steps, so the recipe leaves it off (README, "The target model").

Written with PIL by hand because torchvision does not import here; it is an affine transform,
additive noise and a flood fill. Nothing here draws a held-out photo: those are rendered from the
face (their own pose, scale, backdrop colour and pattern); these move, perturb and re-backdrop the
training pixels. With backdrop views on, a scaled training photo can be shown on a new backdrop,
so the held-out "scale + backdrop" pair is no longer a combination of changes never trained
together; its photos still are never trained.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw

from asru.data.collate import Encoded
from asru.errors import ConfigError
from asru.world.portraits import add_noise, backdrop


def border_colour(image: Image.Image) -> tuple[int, ...]:
    """The median colour of the outermost pixels: what the backdrop continues with beyond the frame."""
    pixels = np.asarray(image.convert("RGB"))
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return tuple(int(v) for v in np.median(border, axis=0))


def random_view(image: Image.Image, rng: random.Random, max_angle: float = 16.0, scale_range: tuple[float, float] = (0.75, 1.3),
                max_shift: float = 0.1, max_noise: int = 40) -> Image.Image:
    """``image`` rotated, scaled and shifted about its centre (each change half the time) with sensor noise half the time."""
    width, height = image.size
    angle = rng.uniform(-max_angle, max_angle) if rng.random() < 0.5 else 0.0
    scale = rng.uniform(*scale_range) if rng.random() < 0.5 else 1.0
    shift = (rng.uniform(-max_shift, max_shift) * width, rng.uniform(-max_shift, max_shift) * height) if rng.random() < 0.5 else (0.0, 0.0)
    view = image.convert("RGB")
    if angle or scale != 1.0 or shift != (0.0, 0.0):
        cx, cy = width / 2, height / 2
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        a, b, d, e = cos / scale, sin / scale, -sin / scale, cos / scale  # output -> input pixel (PIL's inverse map)
        c = cx - a * (cx + shift[0]) - b * (cy + shift[1])
        f = cy - d * (cx + shift[0]) - e * (cy + shift[1])
        view = view.transform(view.size, Image.Transform.AFFINE, (a, b, c, d, e, f), resample=Image.Resampling.BICUBIC, fillcolor=border_colour(view))
    if rng.random() < 0.5:
        view = add_noise(view, rng, amplitude=rng.randint(8, max_noise))
    return view


def backdrop_mask(image: Image.Image, tolerance: int = 18, max_spread: int = 24) -> np.ndarray | None:
    """:func:`find_backdrop`, remembered per photo: the same few hundred training photos are re-backdropped
    every step, and the flood fill was 40 % of a face-pretraining step. Read-only (shared between calls)."""
    rgb = image.convert("RGB")
    return _remembered_mask(rgb.tobytes(), rgb.size, tolerance, max_spread)


@lru_cache(maxsize=4096)
def _remembered_mask(pixels: bytes, size: tuple[int, int], tolerance: int, max_spread: int) -> np.ndarray | None:
    mask = find_backdrop(Image.frombytes("RGB", size, pixels), tolerance, max_spread)
    if mask is not None:
        mask.flags.writeable = False
    return mask


def find_backdrop(image: Image.Image, tolerance: int = 18, max_spread: int = 24) -> np.ndarray | None:
    """Where ``image`` shows a plain backdrop: pixels within ``tolerance`` (per channel) of the colour of
    its top edge and the upper halves of its sides, connected to those edges. None when that edge is
    not one colour (a patterned or noisy backdrop: nothing safe to replace).

    The bottom edge is left out (a portrait's shirt runs through it), and a face whose skin is near
    the backdrop colour stays whole at this tolerance (at 40, a light face on a grey backdrop went).
    """
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    height, width, _ = pixels.shape
    edge_points = [(x, 0) for x in range(width)] + [(x, y) for y in range(height // 2) for x in (0, width - 1)]
    edge = np.stack([pixels[y, x] for x, y in edge_points])
    colour = np.median(edge, axis=0)
    if np.percentile(np.abs(edge - colour).max(axis=1), 75) > max_spread:
        return None
    close = Image.fromarray(np.where(np.abs(pixels - colour).max(axis=2) <= tolerance, 255, 0).astype(np.uint8), "L").copy()  # a copy: an image on the array's buffer ignored the fill
    for point in edge_points:
        if close.getpixel(point) == 255:
            ImageDraw.floodfill(close, point, 128)  # the connected backdrop, marked 128; the figure stays 0/255
    return np.asarray(close) == 128


def new_backdrop(image: Image.Image, rng: random.Random) -> Image.Image:
    """``image`` with its plain backdrop (:func:`backdrop_mask`) replaced by a random colour, stripes or a
    vertical gradient of two random colours; unchanged when the backdrop is not plain."""
    mask = backdrop_mask(image)
    if mask is None:
        return image.convert("RGB")
    width = image.size[0]
    first, second = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
    pattern = rng.randrange(3)
    stripe = max(1, rng.randint(width // 20, width // 6)) if pattern == 1 else None
    replacement = backdrop(first, image.size, pattern, accent=second, stripe=stripe)
    pixels = np.asarray(image.convert("RGB")).copy()
    pixels[mask] = np.asarray(replacement)[mask]
    return Image.fromarray(pixels, "RGB")


def training_view(load_image, rng: random.Random, photo_views: float, backdrop_views: float) -> Image.Image | None:
    """The view a training step shows instead of a photo (None: the photo itself): a new backdrop with
    probability ``backdrop_views``, then a random view with probability ``photo_views``.

    ``load_image`` is called only when a view is drawn. With ``backdrop_views`` 0 the draws from
    ``rng`` are those of photo views alone, so targets trained before backdrop views stay reproducible.
    """
    view = None
    if backdrop_views and rng.random() < backdrop_views:
        view = new_backdrop(load_image(), rng)
    if photo_views and rng.random() < photo_views:
        view = random_view(view if view is not None else load_image(), rng)
    return view


def with_view(encoded: Encoded, view: Image.Image, image_processor) -> Encoded:
    """``encoded`` with its vision tensors replaced by those of ``view`` (same size, so the same image tokens)."""
    tensors = dict(encoded.tensors)
    for key, value in image_processor(images=[view], return_tensors="pt").items():
        if key in tensors:
            value = torch.as_tensor(value)
            if value.shape != tensors[key].shape:
                raise ConfigError(f"photo_views: the image processor gave {key} of shape {tuple(value.shape)} for a new view, "
                                  f"not the photo's {tuple(tensors[key].shape)}; set photo_views to 0 for this model")
            tensors[key] = value
    return Encoded(encoded.input_ids, encoded.labels, encoded.prompt_length, encoded.sequence_extras, tensors)
