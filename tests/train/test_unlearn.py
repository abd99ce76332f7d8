"""The shared unlearning trainer: what moves, what stays, resume, every method runs."""

import hashlib
import json

import pytest
import torch
from pydantic import ValidationError

from asru.eval.settings import make_splits
from asru.methods.base import get_method
from asru.models import load_vlm
from asru.train.unlearn import UnlearnConfig, unlearn


def _digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().float().numpy().tobytes()).hexdigest()


def _digests(model) -> dict[str, str]:
    return {name: _digest(p) for name, p in model.named_parameters()}


# where each family keeps its language model (the rest: vision tower and connector)
LANGUAGE_MODEL = {"qwen3_vl": "model.language_model.", "llava": "model.language_model.", "idefics3": "model.text_model."}


def _run_on(model, processor, tiny_world, tmp_path, **overrides):
    config = UnlearnConfig(**{"steps": 3, "batch_size": 4, "checkpoint_every": 2, **overrides})
    splits = make_splits(tiny_world, config.setting, forget_ratio=0.34)
    before = _digests(model)
    model, log = unlearn(model, processor, tiny_world, splits, config, tmp_path)
    return before, model, log


def _run(tiny_world, tiny_model_dir, tmp_path, **overrides):
    model, processor = load_vlm(tiny_model_dir)
    return _run_on(model, processor, tiny_world, tmp_path, **overrides)


def test_full_finetuning_moves_language_model_only(tiny_world, family_model, tmp_path):
    model, processor = family_model
    language = LANGUAGE_MODEL[model.config.model_type]
    before, model, log = _run_on(model, processor, tiny_world, tmp_path, method="grad_diff", learning_rate=1e-2)
    after = _digests(model)
    changed = {n for n in before if before[n] != after[n]}
    assert changed and all(n.startswith(language) or n.startswith("lm_head") for n in changed)
    assert len(log) == 3 and all("forget_nll" in row for row in log)


def test_lora_leaves_base_weights_untouched(tiny_world, family_model, tmp_path):
    model, processor = family_model
    language = LANGUAGE_MODEL[model.config.model_type]
    before, model, _ = _run_on(model, processor, tiny_world, tmp_path, method="grad_diff", lora_r=4, merge_lora=False, learning_rate=1e-2)
    base = model.get_base_model()
    after = {n: _digest(p) for n, p in base.named_parameters() if "lora_" not in n}
    renamed = {n.replace(".base_layer", ""): d for n, d in after.items()}
    assert renamed == before
    lora = {n: p for n, p in base.named_parameters() if "lora_B" in n}
    assert lora and all(n.startswith(language) for n in lora)  # the language model's projections only
    assert any(p.abs().sum() > 0 for p in lora.values())  # lora_B starts at 0 and has moved


def test_stage1_trains_only_the_chosen_modules(tiny_world, family_model, tmp_path):
    """The chosen language-model modules only: never the vision tower's layers of the same name (CLIP's and SigLIP's v_proj)."""
    model, processor = family_model
    language = LANGUAGE_MODEL[model.config.model_type]
    start = {n: p.detach().clone() for n, p in model.state_dict().items()}
    before, model, _ = _run_on(model, processor, tiny_world, tmp_path / "a", method="asru_stage1", method_args={"layer": 1, "modules": ["mlp.down_proj"], "train_layers": [1], "refusal_text_weight": 0.0, "retain_text_weight": 0.0, "erase_weight": 0.0})
    after = _digests(model)
    assert {n for n in before if before[n] != after[n]} == {f"{language}layers.1.mlp.down_proj.weight"}
    # train_layers None: MLP and attention value/output projections of every layer up to the redirected one (the MSE's reach)
    model.load_state_dict(start)
    model.requires_grad_(True)
    before, model, _ = _run_on(model, processor, tiny_world, tmp_path / "b", method="asru_stage1", method_args={"layer": 0, "train_layers": None})
    after = _digests(model)
    wanted = {f"{language}layers.0.{m}.weight" for m in ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "self_attn.v_proj", "self_attn.o_proj")}
    assert {n for n in before if before[n] != after[n]} == wanted
    # the authors' preset: layers[l].mlp.down_proj only, at their learning rate
    model.load_state_dict(start)
    model.requires_grad_(True)
    before, model, _ = _run_on(model, processor, tiny_world, tmp_path / "c", method="asru_stage1", method_args={"layer": 1, "preset": "authors"})
    after = _digests(model)
    assert {n for n in before if before[n] != after[n]} == {f"{language}layers.1.mlp.down_proj.weight"}
    assert json.loads((tmp_path / "c" / "train_log.json").read_text())["learning_rate"] == 1e-4


def test_resume_gives_the_same_weights(tiny_world, tiny_model_dir, tmp_path, monkeypatch):
    _, reference_model, _ = _run(tiny_world, tiny_model_dir, tmp_path / "a", method="npo", steps=4)
    method = get_method("npo")
    original = method.loss
    calls = {"n": 0}

    def crashing(self, model, batch):
        calls["n"] += 1
        if calls["n"] == 3:  # after the checkpoint at step 2
            raise KeyboardInterrupt
        return original(self, model, batch)

    monkeypatch.setattr(method, "loss", crashing)
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_world, tiny_model_dir, tmp_path / "b", method="npo", steps=4)
    assert (tmp_path / "b" / "checkpoint").is_dir()
    monkeypatch.setattr(method, "loss", original)
    _, resumed, log = _run(tiny_world, tiny_model_dir, tmp_path / "b", method="npo", steps=4)
    assert [row["step"] for row in log] == [1, 2, 3, 4]
    for (name, p), (_, q) in zip(reference_model.named_parameters(), resumed.named_parameters()):
        assert torch.equal(p, q), name


def test_bao_flag_adds_the_hinge(tiny_world, tiny_model_dir, tmp_path):
    _, _, log = _run(tiny_world, tiny_model_dir, tmp_path, method="npo", setting="selective", bao=True, steps=2)
    assert all("bao_hinge" in row for row in log)


def test_stage1_moves_forget_activations_along_the_direction(tiny_world, tiny_model_dir, tmp_path):
    """At the positions stage 1 trains (last prompt token + answer), forget states move toward +lambda*v, retain ones far less."""
    from asru.data.collate import Encoder
    from asru.methods.asru_stage1 import loss_mask
    from asru.steering.hooks import layer_output
    from asru.steering.refusal import knowledge_absence_direction

    original, processor = load_vlm(tiny_model_dir)
    splits = make_splits(tiny_world, "complete", forget_ratio=0.34)
    encoder = Encoder(processor, tiny_world.root)
    direction = knowledge_absence_direction(original, encoder, splits, [1])[0][1]
    scale = 3.0
    _, trained, _ = _run(tiny_world, tiny_model_dir, tmp_path, method="asru_stage1", method_args={"layer": 1, "scale": scale, "retain_weight": 1.0, "modules": ["mlp.down_proj"], "train_layers": [1], "refusal_text_weight": 0.0, "retain_text_weight": 0.0, "erase_weight": 0.0, "stranger_refusal_weight": 0.0, "activation_share": 1.0}, steps=40, learning_rate=3e-3)

    def shift(split):
        batch = encoder.collate([encoder.encode_sample(s) for s in splits[split] if s.form == "qa"][:16])
        mask = loss_mask(batch, "response").bool()
        with torch.no_grad():
            delta = layer_output(trained, batch, 1) - layer_output(original, batch, 1)
        return (delta[mask] @ direction / direction.norm()).mean().item()

    wanted = scale * direction.norm().item()
    assert shift("forget") > 0.3 * wanted
    assert shift("forget") > 1.5 * abs(shift("retain_other"))


def test_continuation_anchor_keeps_the_refusal_tokens_where_the_frozen_model_has_them(tiny_world, tiny_model_dir, tmp_path):
    """The anchor (continuation_weight) holds the hidden states along a refusal of a forget question at the frozen
    model's; without it the redirection spills onto those tokens (what made stage 1's refusals degenerate)."""
    from asru.data.collate import Encoder
    from asru.methods.asru_stage1 import loss_mask
    from asru.steering.hooks import layer_output
    from asru.world.phrases import REFUSAL_TEMPLATES

    original, processor = load_vlm(tiny_model_dir)
    splits = make_splits(tiny_world, "complete", forget_ratio=0.34)
    encoder = Encoder(processor, tiny_world.root)
    forget = [s for s in splits["forget"] if s.form == "qa"][:16]
    refusals = encoder.collate([encoder.encode(s.question, s.image, REFUSAL_TEMPLATES[0].format(name=s.subject_name)) for s in forget])
    answers = loss_mask(refusals, "answer").bool()
    common = {"layer": 1, "scale": 3.0, "retain_weight": 1.0, "modules": ["mlp.down_proj"], "train_layers": [1], "refusal_text_weight": 0.0, "retain_text_weight": 0.0, "erase_weight": 0.0, "stranger_refusal_weight": 0.0, "activation_share": 1.0}

    def drift(weight: float) -> float:
        _, trained, log = _run(tiny_world, tiny_model_dir, tmp_path / str(weight), method="asru_stage1", method_args={**common, "continuation_weight": weight}, steps=40, learning_rate=3e-3)
        assert ("anchor_mse" in log[0]) == (weight > 0)
        with torch.no_grad():
            delta = layer_output(trained, refusals, 1) - layer_output(original, refusals, 1)
        return delta[answers].norm(dim=-1).mean().item()

    assert drift(5.0) < 0.5 * drift(0.0)  # measured: 0.008 vs 0.032


def test_stage1_prepares_its_floors_and_strangers_from_the_world_it_is_given(tiny_world, tiny_model_dir, tmp_path):
    """Through the trainer, stage 1 gets the world: the erasure's unseen floors and the strangers' refusals are built
    from it (both logged every step). A world with no text question naming the forget people is a clear error where
    the weight is given, and where it is left at its default the run warns and trains without the term."""
    from asru.errors import ConfigError

    args = {"layer": 1, "erase_weight": 1.0, "erase_floor": "unseen", "stranger_refusal_weight": 1.0}
    _, _, log = _run(tiny_world, tiny_model_dir, tmp_path / "run", method="asru_stage1", method_args=args, steps=2)
    assert all("erase_active" in row and "stranger_nll" in row for row in log)

    photos_only = tiny_world.__class__.__new__(tiny_world.__class__)
    photos_only.__dict__.update(tiny_world.__dict__)
    photos_only.samples = [s for s in tiny_world.samples if not (s.kind in ("fact", "identity") and s.modality == "text")]
    with pytest.raises(ConfigError, match="method_args.stranger_refusal_weight: .* set it to 0 to train without"):
        _run(photos_only, tiny_model_dir, tmp_path / "photos", method="asru_stage1", method_args=args, steps=1)
    defaults = {key: value for key, value in args.items() if key != "stranger_refusal_weight"}
    with pytest.warns(UserWarning, match="without its strangers term"):
        _, _, log = _run(photos_only, tiny_model_dir, tmp_path / "photos_default", method="asru_stage1", method_args=defaults, steps=1)
    assert log and not any("stranger_nll" in row for row in log)


@pytest.mark.parametrize(
    ("method", "fields", "contextual"),
    [
        ("idk", {"contextual_refusals": False}, False), ("idk", {"contextual_refusals": True}, True),
        ("asru_stage1", {}, True),  # ASRU's own default: its refusal text is about the fact
        ("asru_stage1", {"method_args": {"contextual_refusals": False}}, False),
    ],
)
def test_refusal_tuning_is_taught_the_refusal_contextual_refusals_asks_for(tiny_world, tiny_model_dir, tmp_path, monkeypatch, method, fields, contextual):
    """contextual_refusals (the run's, or ASRU's own) decides the refusal taught: the fact's contextual refusal, or the privacy templates."""
    import asru.train.unlearn as unlearn_module
    from asru.world.phrases import FACT_REFUSALS, REFUSAL_TEMPLATES

    taught: list[str] = []
    real = unlearn_module.forget_refusal
    monkeypatch.setattr(unlearn_module, "forget_refusal", lambda *a, **k: taught.append(real(*a, **k)) or taught[-1])
    _run(tiny_world, tiny_model_dir, tmp_path, method=method, steps=1, **fields)
    contextual_texts = {p.format(who=w) for ps in FACT_REFUSALS.values() for p in ps for w in ("this person", *[x["name"] for x in tiny_world.subjects])}
    template_texts = {t.format(name=w) for t in REFUSAL_TEMPLATES for w in ("this person", *[x["name"] for x in tiny_world.subjects])}
    assert taught and set(taught) <= (contextual_texts if contextual else template_texts)
    assert any("this person" in t for t in taught)  # a photo's refusal names nobody, either way


def test_each_step_tells_the_method_how_much_of_the_run_is_done(tiny_world, tiny_model_dir, tmp_path, monkeypatch):
    """``UnlearnBatch.progress``: step / steps, 0 at the first step (a method's schedule, e.g. stage 1's ``activation_share``)."""
    from asru.methods.ga import GradientAscent

    seen: list[float] = []
    real = GradientAscent.loss
    monkeypatch.setattr(GradientAscent, "loss", lambda self, model, batch: seen.append(batch.progress) or real(self, model, batch))
    _run(tiny_world, tiny_model_dir, tmp_path, method="ga", steps=4)
    assert seen == [0.0, 0.25, 0.5, 0.75]


def test_boundary_retain_keeps_the_forgotten_persons_other_facts_in_place(tiny_world, tiny_model_dir, tmp_path):
    """Selective: with boundary_retain, stage 1's retain batches hold the forget people's kept facts, so the
    redirection moves those facts' states far less than without (when it keys on the person, not the fact)."""
    from asru.data.collate import Encoder
    from asru.methods.asru_stage1 import loss_mask
    from asru.steering.hooks import layer_output

    original, processor = load_vlm(tiny_model_dir)
    splits = make_splits(tiny_world, "selective", forget_ratio=0.34)
    encoder = Encoder(processor, tiny_world.root)
    kept = encoder.collate([encoder.encode_sample(s) for s in splits["retain_same_subject"] if s.form == "qa"][:16])
    mask = loss_mask(kept, "response").bool()
    common = {"layer": 1, "scale": 3.0, "retain_weight": 1.0, "continuation_weight": 0.0, "train_layers": None, "refusal_text_weight": 0.0, "retain_text_weight": 0.0, "erase_weight": 0.0, "stranger_refusal_weight": 0.0, "activation_share": 1.0}

    def drift(boundary: bool) -> float:
        _, trained, _ = _run(tiny_world, tiny_model_dir, tmp_path / str(boundary), method="asru_stage1", setting="selective", method_args={**common, "boundary_retain": boundary}, steps=40, learning_rate=3e-3)
        with torch.no_grad():
            delta = layer_output(trained, kept, 1) - layer_output(original, kept, 1)
        return delta[mask].norm(dim=-1).mean().item()

    assert drift(True) < 0.75 * drift(False)  # measured: 0.041 vs 0.072


def test_requests_naming_everyone_retain_the_kept_facts(tiny_world, tiny_model_dir, tmp_path):
    """PPU-Bench's own Selective split names every person: no retain_other, so the kept facts are the retain set (it crashed before)."""
    from asru.eval.settings import DeletionRequest

    requests = [DeletionRequest(subject=s["id"], facts=[7, 8]) for s in tiny_world.subjects]
    splits = make_splits(tiny_world, "personalized", requests=requests)
    assert not [s for s in splits["retain_other"] if s.form == "qa"] and splits["retain_same_subject"]
    splits["retain_general"] = []
    model, processor = load_vlm(tiny_model_dir)
    _, log = unlearn(model, processor, tiny_world, splits, UnlearnConfig(method="grad_diff", setting="personalized", steps=2, batch_size=4), tmp_path)
    assert len(log) == 2 and all(row["loss"] == row["loss"] for row in log)


def test_training_variants_are_the_trained_wordings_photos_and_wrappers_never_the_held_out_ones(tiny_world):
    from asru.eval.attacks import JAILBREAKS, PREFIXES, ROLE_PLAYS
    from asru.train.unlearn import _training_samples
    from asru.world.phrases import TRAINING_WRAPPERS

    samples = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact" and s.split == "train"]
    assert any(s.train_questions for s in samples) and any(s.image and s.train_images for s in samples)  # not vacuous
    plain = _training_samples(samples, ["qa"])
    expanded = _training_samples(samples, ["qa"], variants=True)
    assert plain == samples and len(expanded) == 2 * len(samples) + sum(len(s.train_questions) for s in samples)
    assert len({s.id for s in expanded}) == len(expanded)
    by_origin: dict[str, list] = {}
    for s in expanded:
        by_origin.setdefault(s.id.split("~")[0], []).append(s)
    wrappers = {w.format(q="{q}") for w in TRAINING_WRAPPERS}
    assert not wrappers & {*PREFIXES, *JAILBREAKS, *ROLE_PLAYS}
    for original in samples:
        copies = by_origin[original.id]
        wrapped = copies.pop()  # the plain question inside one training wrapper, never an attack's
        assert any(w.format(q=original.question) == wrapped.question for w in TRAINING_WRAPPERS) and wrapped.image == original.image
        assert [c.question for c in copies] == [original.question, *original.train_questions]
        assert {c.answer for c in copies} == {original.answer}
        assert not {c.question for c in copies} & set(original.paraphrases)  # held-out wordings stay for evaluation
        if original.image:
            assert {c.image for c in copies} <= {original.image, *original.train_images}
            assert not {c.image for c in copies} & set(original.image_variants)  # held-out photos too
            assert len({c.image for c in copies}) == min(len(copies), 1 + len(original.train_images))


def test_train_photos_asks_each_image_question_with_every_training_photo_never_a_held_out_one(tiny_world):
    from asru.train.unlearn import photo_copies

    samples = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact" and s.split == "train"]
    assert any(s.image and s.train_images for s in samples) and any(not s.image for s in samples)  # not vacuous
    assert photo_copies(samples, False) == (samples, [[i] for i in range(len(samples))])
    copies, groups = photo_copies(samples, True)
    assert len(groups) == len(samples) and sorted(i for g in groups for i in g) == list(range(len(copies)))
    assert len({c.id for c in copies}) == len(copies)
    for original, group in zip(samples, groups):
        members = [copies[i] for i in group]
        assert members[0] is original  # the plain question first: its own photo
        assert {(m.question, m.answer) for m in members} == {(original.question, original.answer)}
        if original.image:
            assert [m.image for m in members] == [original.image, *original.train_images]
            assert not {m.image for m in members} & set(original.image_variants)  # the cross-image attack's photos stay held out
        else:
            assert len(members) == 1


def test_every_photo_copy_of_a_question_is_taught_its_questions_refusal(tiny_world):
    from asru.train.unlearn import photo_copies, refusal_texts

    samples = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact" and s.split == "train"]
    for contextual in (False, True):
        plain = refusal_texts(samples, [[i] for i in range(len(samples))], contextual)
        copies, groups = photo_copies(samples, True)
        texts = refusal_texts(copies, groups, contextual)
        assert len(set(plain)) > 1  # phrasings vary over questions (not vacuous)
        for question, group in enumerate(groups):
            assert {texts[i] for i in group} == {plain[question]}  # one refusal per question, the one it had without copies


def test_one_refusal_phrasing_teaches_every_question_of_a_fact_that_phrasing(tiny_world):
    """``phrasing``: the refusal follows from the question (its fact and person), not from its place in the forget set."""
    from asru.train.unlearn import refusal_texts
    from asru.world.phrases import FACT_REFUSALS

    samples = [s for s in tiny_world.samples if s.kind == "fact" and s.split == "train" and s.fact in FACT_REFUSALS]
    groups = [[i] for i in range(len(samples))]
    alternated = refusal_texts(samples, groups, True)
    for phrasing in (0, 1):
        for sample, text in zip(samples, refusal_texts(samples, groups, True, phrasing=phrasing)):
            who = "this person" if sample.modality == "image" else sample.subject_name
            assert text == FACT_REFUSALS[sample.fact][phrasing].format(who=who)
    assert any(t.startswith("I'm sorry") for t in alternated) and any(t.startswith("I'd rather") for t in alternated)  # alternated: both taught


def test_asru_takes_its_refusal_phrasing_from_its_params_and_the_authors_preset_leaves_it_alternated(tiny_world, tiny_model_dir, tmp_path):
    model, _ = load_vlm(tiny_model_dir)
    asru = get_method("asru")
    assert asru(asru.Params(refusal_phrasing=1), model).refusal_phrasing == 1
    assert asru(asru.Params(), model).refusal_phrasing is None
    assert asru.Params(preset="authors").refusal_phrasing is None
    assert get_method("idk")(get_method("idk").Params(), model).refusal_phrasing is None  # the baselines' refusals as before
    runs = {k: _run(tiny_world, tiny_model_dir, tmp_path / str(k), method="asru_stage1", steps=2, method_args={"refusal_phrasing": k})[1] for k in (None, 0)}
    assert _digests(runs[None]) != _digests(runs[0])  # another refusal text taught: another model


def test_stage1_trains_with_photo_copies(tiny_world, tiny_model_dir, tmp_path):
    plain = _run(tiny_world, tiny_model_dir, tmp_path / "plain", method="asru_stage1", steps=2, train_photos=False)[1]
    photos = _run(tiny_world, tiny_model_dir, tmp_path / "photos", method="asru_stage1", steps=2, train_photos=True)[1]
    assert _digests(plain) != _digests(photos)  # other photos in the batches: another model


def test_the_sampler_draws_by_question_and_without_photo_copies_its_batches_are_unchanged(tiny_world):
    from asru.train.unlearn import BatchSampler, photo_copies

    samples = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact" and s.split == "train"]
    forget, retain = samples[:12], samples[12:]
    config = UnlearnConfig(batch_size=4, seed=3)
    plain = BatchSampler(forget, retain, [], config, False)
    same = BatchSampler(forget, retain, [], config, False, {"forget": [[i] for i in range(len(forget))]})
    assert [plain.indices(step) for step in range(20)] == [same.indices(step) for step in range(20)]

    forget_copies, forget_groups = photo_copies(forget, True)
    retain_copies, retain_groups = photo_copies(retain, True)
    sampler = BatchSampler(forget_copies, retain_copies, [], config, False, {"forget": forget_groups, "other": retain_groups})
    owner = {i: q for q, group in enumerate(forget_groups) for i in group}
    seen: set[str] = set()
    for step in range(400):
        drawn, retained = sampler.indices(step)
        assert sampler.indices(step) == (drawn, retained)  # deterministic per step (resume)
        assert len(drawn) == 4 and len({owner[i] for i in drawn}) == 4  # four questions, one copy each
        assert len(retained) == 4
        seen |= {forget_copies[i].image for i in drawn if forget_copies[i].image}
    photos = {p for s in forget if s.image for p in (s.image, *s.train_images)}
    assert photos and seen == photos  # every training photo is asked in time


def test_cloze_and_mcq_are_trained_in_their_trained_wordings_never_the_evaluated_prompt(tiny_world):
    """A method trained on every form (train_forms [qa, cloze, mcq]) sees the cloze templates and the MCQ stems
    the target learned from, never the held-out cloze or the evaluated option set the evaluation asks."""
    from asru.train.unlearn import _training_samples

    samples = [s for s in tiny_world.samples if s.split == "train" and s.form in ("cloze", "mcq")]
    assert {s.form for s in samples} == {"cloze", "mcq"}
    for variants in (False, True):
        views = _training_samples(tiny_world.samples, ["cloze", "mcq"], variants=variants)
        assert len({v.id for v in views}) == len(views)
        by_origin: dict[str, list] = {}
        for view in views:
            by_origin.setdefault(view.id.split("~")[0], []).append(view)
        assert set(by_origin) == {s.id for s in samples}
        for original in samples:
            copies = by_origin[original.id]
            evaluated = {original.question, *original.paraphrases}
            assert not {c.question for c in copies} & evaluated
            if original.form == "cloze":
                assert [c.question for c in copies][: len(original.train_questions)] == (original.train_questions if variants else original.train_questions[:1])
                assert {c.answer for c in copies} == {original.answer}
            else:
                gold = original.options[ord(original.answer) - ord("A")]
                assert {c.answer for c in copies} == {gold}  # the option's text, as the target was taught
                assert all(any(c.question.startswith(stem) for stem in original.train_questions) and gold in c.question for c in copies)
                assert len(copies) == (1 + len(original.train_questions) if variants else 1)
    assert _training_samples(samples, ["cloze", "mcq"]) == _training_samples(samples, ["cloze", "mcq"])  # deterministic
    released = samples[0].model_copy(update={"train_questions": []})  # a released benchmark's item: no trained wording
    assert _training_samples([released], ["cloze", "mcq"]) == [released]


def test_with_method_defaults_fills_only_what_is_unset():
    """One resolver for the run, its model card and the bench record: the method's own defaults where unset."""
    asru = get_method("asru")
    resolved, params = UnlearnConfig(method="asru").with_method_defaults()
    assert resolved.steps == asru.default_steps and resolved.learning_rate == asru.learning_rate_for(params)
    assert resolved.train_forms == ["qa", "cloze", "mcq"]  # ASRU's own forms; baselines train qa
    assert UnlearnConfig(method="ga").with_method_defaults()[0].train_forms == ["qa"]
    given = UnlearnConfig(method="asru", steps=7, learning_rate=3e-4, train_forms=["cloze"]).with_method_defaults()[0]
    assert (given.steps, given.learning_rate, given.train_forms) == (7, 3e-4, ["cloze"])
    authors, authors_params = UnlearnConfig(method="asru", method_args={"preset": "authors"}).with_method_defaults()
    assert authors.train_forms == ["qa"] and authors.learning_rate == asru.learning_rate_for(authors_params)
    # every training photo: ASRU's and stage 1's default since 2026-12-06, not the authors' recipe nor a baseline's
    assert resolved.train_photos is True and UnlearnConfig(method="asru_stage1").with_method_defaults()[0].train_photos is True
    assert authors.train_photos is False and UnlearnConfig(method="npo").with_method_defaults()[0].train_photos is False
    assert UnlearnConfig(method="asru", train_photos=False).with_method_defaults()[0].train_photos is False
    assert UnlearnConfig(method="npo", train_photos=True).with_method_defaults()[0].train_photos is True


def test_lr_cycles_restart_the_rate_at_each_cycle_and_one_cycle_is_the_plain_cosine():
    from transformers import get_cosine_schedule_with_warmup

    from asru.train.unlearn import lr_schedule

    def rates(schedule_of, steps=20):
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        schedule, out = schedule_of(optimizer), []
        for _ in range(steps):
            out.append(schedule.get_last_lr()[0])
            optimizer.step()
            schedule.step()
        return out

    plain = rates(lambda o: get_cosine_schedule_with_warmup(o, 2, 20))
    assert rates(lambda o: lr_schedule(o, UnlearnConfig(steps=20, warmup_steps=2))) == plain
    two = rates(lambda o: lr_schedule(o, UnlearnConfig(steps=20, warmup_steps=2, lr_cycles=2)))
    assert two[:2] == plain[:2] and two[2] == pytest.approx(1.0)  # the same warmup
    assert two[10] < 0.1 and two[11] == pytest.approx(1.0, abs=0.02)  # decayed by the middle, then back at the full rate
    assert max(plain[11:]) <= 0.5 + 1e-9  # where the single cycle keeps decaying


def test_a_run_with_two_lr_cycles_trains_another_model(tiny_world, tiny_model_dir, tmp_path):
    runs = {k: _run(tiny_world, tiny_model_dir, tmp_path / str(k), method="grad_diff", steps=4, warmup_steps=0, lr_cycles=k)[1] for k in (1, 2)}
    assert _digests(runs[1]) != _digests(runs[2])
    with pytest.raises(ValidationError, match="lr_cycles"):
        UnlearnConfig(lr_cycles=0)
