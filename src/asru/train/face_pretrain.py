"""Stage 0 of the target's recipe (optional): the vision tower learns to tell the world's people apart.

A pretrained VLM's vision encoder has seen millions of faces before it ever learns a name, so it
recognises a public figure on a photo it never saw. The tiny target's tower starts from random
weights and learns faces only through the language loss, one name token at a time: at 40 people it
bound a person to their training photos' backdrop (45-62 % on held-out photos with a new backdrop,
README "The target model"). Here, before the fine-tune, the tower (and its merger, whose output the
language model reads) is trained for 25 cheap steps per person to classify who a training photo
shows, on random views of it: a new backdrop (:func:`asru.train.photo_views.new_backdrop`) and a
random rotation / scale / shift / noise. The class head is thrown away; the fine-tune then binds
these identity features to names. No held-out photo is ever shown: the views are drawn from the
training photos, as in ``photo_views``.

Written here rather than with a library: it is a 20-line classification loop on the tower's own
forward (``get_image_features``), which no trainer does for a VLM's vision part alone.
"""

from __future__ import annotations

import random
from collections import defaultdict

import torch
from torch import nn

from asru.errors import ConfigError
from asru.train.photo_views import training_view
from asru.ui import progress_bar


def training_photos_by_person(samples, unknown: set[str] = frozenset()) -> dict[str, list[str]]:
    """{subject id: the photos the recipe trains on} (the shown image and the further training photos; never a held-out one).

    ``unknown``: people left out — a retrained oracle's, whose identity it never learns, never see their face either.
    """
    photos: dict[str, set[str]] = defaultdict(set)
    for sample in samples:
        if sample.subject_id and sample.train_images and sample.subject_id not in unknown:
            photos[sample.subject_id].update(p for p in (sample.image, *sample.train_images) if p)
    return {subject: sorted(found) for subject, found in sorted(photos.items())}


def pretrain_faces(model, processor, load_image, photos: dict[str, list[str]], steps: int, learning_rate: float, seed: int,
                   batch_size: int = 32, backdrop_views: float = 0.5, photo_views: float = 0.5, console=None) -> list[float]:
    """Train ``model``'s vision tower (in place) to name the person of a random view of a training photo; returns the losses.

    Seeded by ``seed``: the same recipe pretrains the same tower, so the target's cache key stays exact.
    """
    if getattr(model.config, "model_type", None) != "qwen3_vl":
        raise ConfigError(f"face_pretrain_steps_per_person: built for the qwen3_vl family's tower, not {getattr(model.config, 'model_type', None)!r}; set it to 0")
    if len(photos) < 2:
        raise ConfigError(f"face_pretrain_steps_per_person: needs at least 2 people with training photos, the world has {len(photos)}")
    visual = model.model.visual
    device = next(visual.parameters()).device  # on the accelerator when the caller put the model there
    head = nn.Linear(model.config.text_config.hidden_size, len(photos))
    optimizer = torch.optim.AdamW([*visual.parameters(), *head.parameters()], lr=learning_rate)
    people = list(photos)
    rng = random.Random(f"asru-face-pretrain:{seed}")
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # the head's initialisation; the caller's torch stream is restored below
    head.reset_parameters()
    torch.random.set_rng_state(torch_state)
    head.to(device)
    losses = []
    visual.train()
    with progress_bar(console, "stage 0: faces") as bar:
        task = bar.add_task("stage 0: faces", total=steps, loss=float("nan"))
        for _ in range(steps):
            labels = [rng.randrange(len(people)) for _ in range(batch_size)]
            views = []
            for label in labels:
                photo = rng.choice(photos[people[label]])
                view = training_view(lambda: load_image(photo), rng, photo_views, backdrop_views)
                views.append(view if view is not None else load_image(photo))
            tensors = processor.image_processor(images=views, return_tensors="pt").to(device)
            features = model.model.get_image_features(pixel_values=tensors["pixel_values"], image_grid_thw=tensors["image_grid_thw"]).pooler_output
            pooled = torch.stack([image.mean(dim=0) for image in features])  # one vector per photo: the mean of its image tokens
            loss = nn.functional.cross_entropy(head(pooled), torch.tensor(labels, device=device))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            bar.update(task, advance=1, loss=losses[-1])
    return losses
