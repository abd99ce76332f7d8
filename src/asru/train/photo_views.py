"""New views of the training photos, drawn afresh every step: what makes a face, not a photo, the key.

A pretrained VLM recognises a public figure from a photo it has never seen because it has seen
thousands of photos of faces. The tiny target sees only a person's training portraits, and at 40
people it bound the person to those exact pixels: 55 % on held-out photos (a new pose, scale or
backdrop in combinations never trained) while 87-97 % on the training ones. Standard data
augmentation (random rotation, scale, shift and sensor noise) gives it many photos of each face.

Written with PIL by hand because torchvision does not import here; it is an affine transform and
additive noise. Nothing here draws a held-out photo: those are rendered from the face (new backdrop
patterns, new pose/scale combinations), these only move and perturb the training pixels.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch
from PIL import Image

from asru.data.collate import Encoded
from asru.errors import ConfigError
from asru.world.portraits import add_noise


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
