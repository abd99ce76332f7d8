"""Where stage 1 takes its activation loss: masks respected, padding never counted."""

import math

import pytest
import torch

from asru.data.collate import IGNORE_INDEX
from asru.methods.asru_stage1 import loss_mask


def _batch():
    # left-padded: row 0 has 2 pad, 3 prompt, 2 answer tokens; row 1 has 4 prompt, 3 answer tokens
    attention = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
    labels = torch.full((2, 7), IGNORE_INDEX)
    labels[0, 5:] = 7
    labels[1, 4:] = 7
    return {"attention_mask": attention, "labels": labels}


def test_response_positions_are_last_prompt_token_and_answer():
    mask = loss_mask(_batch(), "response")
    assert mask.tolist() == [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1]]


def test_token_positions_follow_the_attention_mask():
    assert loss_mask(_batch(), "tokens").tolist() == _batch()["attention_mask"].tolist()


def test_last_position_is_the_final_column():
    assert loss_mask(_batch(), "last")[:, -1].tolist() == [1, 1]
    assert loss_mask(_batch(), "last").sum() == 2


def test_answer_positions_are_the_answer_tokens_only():
    mask = loss_mask(_batch(), "answer")
    assert mask.tolist() == [[0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1, 1]]


def test_frozen_rows_are_the_reference_forward_and_each_item_runs_once(tiny_world, family_model):
    from asru.data.collate import Encoder
    from asru.methods.asru_stage1 import ASRUStage1
    from asru.models import language_layers
    from asru.steering.hooks import layer_output

    reference, processor = family_model
    method = ASRUStage1(ASRUStage1.Params(layer=1), reference)
    method.encoder, method.frozen = Encoder(processor, tiny_world.root), {}
    samples = [s for s in tiny_world.samples if s.form == "qa"]
    items = [method.encoder.encode_sample(s) for s in [*samples[:3], *[s for s in samples if s.image][:2]]]
    rows_run = []
    handle = language_layers(reference)[1].register_forward_hook(lambda module, args, output: rows_run.append(args[0].shape[0]))
    try:
        first = method.frozen_rows(items[:4], "cpu")
        again = method.frozen_rows([items[3], items[0], items[4]], "cpu")  # one new item
    finally:
        handle.remove()
    assert rows_run == [4, 1]  # the repeated items came from the cache
    batch = method.encoder.collate(items)
    with torch.no_grad():
        expected = layer_output(reference, batch, 1)[loss_mask(batch, "response").bool()]
    counts = loss_mask(batch, "response").sum(1).tolist()
    per_item = list(torch.split(expected, counts))
    torch.testing.assert_close(first, torch.cat(per_item[:4]), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(again, torch.cat([per_item[3], per_item[0], per_item[4]]), atol=1e-5, rtol=1e-4)


def test_authors_preset_fills_what_is_not_given_and_keeps_what_is():
    from asru.methods.base import get_method

    asru = get_method("asru")
    params = asru.parse_params({"preset": "authors", "scale": 2.0, "rl": {"steps": 3}})
    assert (params.scale, params.retain_weight, params.positions, params.modules) == (2.0, 1.0, "last", ["mlp.down_proj"])
    assert params.continuation_weight == 0 and not params.boundary_retain and params.quality_weight == 0
    assert params.refusal_text_weight == 0 and params.retain_text_weight == 0 and params.train_layers is None and not params.contextual_refusals
    assert params.rl.steps == 3 and params.rl.learning_rate == 1e-6  # nested: the given rl.steps does not drop their rl lr
    assert asru.learning_rate_for(params) == 1e-4
    ours = asru.parse_params({})
    assert ours.preset == "asru" and ours.boundary_retain and ours.train_layers == "all" and ours.contextual_refusals
    assert (ours.refusal_text_weight, ours.retain_text_weight, ours.continuation_weight) == (20.0, 1.0, 0.0)  # adopted on validation seed 100
    assert (ours.erase_weight, ours.erase_floor, params.erase_weight) == (2.0, "unseen", 0.0)  # adopted 2026-12-05; the authors' none
    assert asru.learning_rate_for(ours) == asru.default_learning_rate
    assert asru.train_forms_for(ours) == ["qa", "cloze", "mcq"] and asru.train_forms_for(params) == ["qa"]  # the authors train their qa items
    assert get_method("npo").train_forms_for(get_method("npo").parse_params({})) == ["qa"]
    stage1 = get_method("asru_stage1").parse_params({"preset": "authors"})
    assert stage1.scale == 3.0 and not hasattr(stage1, "quality_weight")


def _trained(reference, method, batch, steps: int):
    """A copy of ``reference`` after ``steps`` AdamW steps of ``method``'s loss on ``batch`` (its trainable layers only)."""
    import copy

    model = copy.deepcopy(reference)
    trained = [p for name, p in model.named_parameters() if method.trainable(name)]
    assert trained
    optimizer = torch.optim.AdamW(trained, lr=3e-3)
    for _ in range(steps):
        loss, _ = method.loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def _nll_after_training(reference, method, batch, inputs, steps: int = 8) -> float:
    """The mean answer NLL of ``inputs`` after ``steps`` training steps of ``method`` (:func:`_trained`)."""
    from asru.methods.base import forward_nll

    model = _trained(reference, method, batch, steps)
    with torch.no_grad():
        return forward_nll(model, inputs)[0].mean().item()


def _forget_retain_batch(tiny_world, processor):
    """(encoder, batch): four qa questions of one person to forget, with their contextual refusals, and four of others to keep."""
    from asru.data.collate import Encoder
    from asru.methods.base import UnlearnBatch
    from asru.world.phrases import forget_refusal

    encoder = Encoder(processor, tiny_world.root)
    qa = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact"]
    forget, retain = [s for s in qa if s.subject_id == qa[0].subject_id][:4], [s for s in qa if s.subject_id != qa[0].subject_id][:4]
    forget_items = [encoder.encode_sample(s) for s in forget]
    refusal_items = [encoder.encode(s.question, s.image, forget_refusal(s.fact, s.subject_name, s.modality == "image", i, True)) for i, s in enumerate(forget)]
    retain_items = [encoder.encode_sample(s) for s in retain]
    batch = UnlearnBatch(
        forget=encoder.collate(forget_items), retain=encoder.collate(retain_items), forget_subjects=[s.subject_id for s in forget],
        retain_subjects=[s.subject_id for s in retain], forget_refusal=encoder.collate(refusal_items),
        forget_items=forget_items, forget_refusal_items=refusal_items, retain_items=retain_items,
    )
    return encoder, batch


def _stage1(reference, encoder, **params):
    """Stage 1 at layer 1 with the anchor, the erasure and the strangers off, ``params`` on top, prepared by hand (a fixed direction instead of the measured one)."""
    from asru.methods.asru_stage1 import ASRUStage1

    method = ASRUStage1(ASRUStage1.Params(layer=1, continuation_weight=0.0, **{"erase_weight": 0.0, "stranger_refusal_weight": 0.0, **params}), reference)
    method.encoder, method.frozen, method.reference_logprobs, method.floors, method.redirect_bases = encoder, {}, {}, {}, {}
    method.frozen_below = {}
    method.direction = torch.ones(reference.config.get_text_config().hidden_size) * 0.1
    return method


def _term_added(reference, batch, method, weight: float, log_key: str) -> tuple[torch.Tensor, float, int]:
    """(loss at ``weight`` minus loss at 0, the logged term, how many more passes through layer 0 the weight costs)."""
    from asru.models.layers import language_layers

    calls: list[int] = []
    handle = language_layers(reference)[0].register_forward_hook(lambda *args: calls.append(1))
    try:
        with torch.no_grad():
            without, _ = method(0.0).loss(reference, batch)
            passes_without = len(calls)
            with_term, logs = method(weight).loss(reference, batch)
    finally:
        handle.remove()
    return with_term - without, logs[log_key], len(calls) - 2 * passes_without


def test_refusal_text_weight_adds_the_refusals_cross_entropy_and_training_with_it_lowers_it(tiny_world, family_model):
    """``refusal_text_weight`` adds w x the refusal's mean NLL to stage 1's loss (0: the loss as before), and a few
    steps with it make the forget prompts' refusal more likely than the same steps without it."""
    from asru.methods.base import forward_nll

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)

    def method(weight):
        return _stage1(reference, encoder, refusal_text_weight=weight)

    assert not method(0.0).uses_refusals and method(2.0).uses_refusals
    added, logged, _ = _term_added(reference, batch, method, 2.0, "refusal_nll")
    with torch.no_grad():
        nll = forward_nll(reference, batch.forget_refusal)[0].mean()
    torch.testing.assert_close(added, 2.0 * nll, atol=1e-4, rtol=1e-4)
    assert logged == pytest.approx(nll.item(), rel=1e-4)

    after = {weight: _nll_after_training(reference, method(weight), batch, batch.forget_refusal) for weight in (0.0, 2.0)}
    assert after[2.0] < after[0.0] - 0.1, after


def test_activation_share_drops_the_activation_terms_after_its_share_of_the_steps_and_keeps_the_text_terms(tiny_world, family_model):
    """``activation_share``: before that share of the run the loss holds the forget rows' MSE to h + lambda*v and the
    retain rows' MSE; from it on the loss is the same less exactly those two terms (still logged), the refusal text kept."""
    import dataclasses

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    method = _stage1(reference, encoder, refusal_text_weight=2.0, retain_weight=3.0, activation_share=0.5)
    moved = _trained(reference, method, batch, 2)  # the retain MSE is 0 at the reference itself
    with torch.no_grad():
        early, early_logs = method.loss(moved, dataclasses.replace(batch, progress=0.25))
        late, late_logs = method.loss(moved, dataclasses.replace(batch, progress=0.5))
    assert early_logs["forget_mse"] > 0 and early_logs["retain_mse"] > 0
    assert late_logs["forget_mse"] == pytest.approx(early_logs["forget_mse"]) and late_logs["retain_mse"] == pytest.approx(early_logs["retain_mse"])
    activation = early_logs["forget_mse"] + 3.0 * early_logs["retain_mse"]
    torch.testing.assert_close(early - late, torch.tensor(activation), atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(late, torch.tensor(2.0 * late_logs["refusal_nll"] + late_logs["retain_nll"]), atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # the authors' 1 keeps them throughout
        whole, _ = _stage1(reference, encoder, refusal_text_weight=2.0, retain_weight=3.0, activation_share=1.0).loss(moved, dataclasses.replace(batch, progress=0.99))
    torch.testing.assert_close(whole, early)


def test_text_phase_retain_text_weight_weighs_the_retain_answers_only_after_the_activation_share(tiny_world, family_model):
    """``text_phase_retain_text_weight``: the retain answers' cross-entropy at that weight once the activation terms are
    off, at ``retain_text_weight`` before; with no text-only steps (``activation_share`` 1) it is a config error."""
    import dataclasses

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    method = _stage1(reference, encoder, refusal_text_weight=2.0, retain_text_weight=1.5, activation_share=0.5, text_phase_retain_text_weight=5.0)
    with torch.no_grad():
        early, early_logs = method.loss(reference, dataclasses.replace(batch, progress=0.25))
        late, late_logs = method.loss(reference, dataclasses.replace(batch, progress=0.75))
    assert early_logs["retain_nll"] > 0
    expected_early = early_logs["forget_mse"] + method.params.retain_weight * early_logs["retain_mse"] + 2.0 * early_logs["refusal_nll"] + 1.5 * early_logs["retain_nll"]
    torch.testing.assert_close(early, torch.tensor(expected_early), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(late, torch.tensor(2.0 * late_logs["refusal_nll"] + 5.0 * late_logs["retain_nll"]), atol=1e-4, rtol=1e-4)
    # a retain text of 0 before the switch still computes the retain answers for the text-only steps
    silent_then_on = _stage1(reference, encoder, refusal_text_weight=2.0, retain_text_weight=0.0, activation_share=0.5, text_phase_retain_text_weight=5.0)
    with torch.no_grad():
        _, logs = silent_then_on.loss(reference, dataclasses.replace(batch, progress=0.75))
    assert logs["retain_nll"] == pytest.approx(late_logs["retain_nll"], rel=1e-4)
    from asru.methods.asru_stage1 import ASRUStage1

    with pytest.raises(ValueError, match="activation_share"):
        ASRUStage1.Params(text_phase_retain_text_weight=5.0, activation_share=1.0)


def test_text_phase_general_image_weight_holds_the_general_rows_image_states_in_the_text_only_steps(tiny_world, family_model):
    """``text_phase_general_image_weight``: once the activation terms are off, w x the MSE between the trained and the frozen
    layer-l states at the image placeholder positions of the general retain rows (no person), and of no other row."""
    import dataclasses

    from asru.methods.asru_stage1 import ASRUStage1
    from asru.models.layers import placeholder_token_ids
    from asru.steering.hooks import layer_output

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    general = [s for s in tiny_world.samples if s.kind == "utility" and s.image][:2]
    people = [s for s in tiny_world.samples if s.kind == "fact" and s.form == "qa" and s.image and s.subject_id != batch.forget_subjects[0]][:2]
    assert len(general) == 2 and len(people) == 2
    retain_items = [encoder.encode_sample(s) for s in people + general]
    batch = dataclasses.replace(batch, retain=encoder.collate(retain_items), retain_items=retain_items, retain_subjects=[s.subject_id or "" for s in people + general])
    moved = _trained(reference, _stage1(reference, encoder, refusal_text_weight=2.0), batch, 2)  # the image states move with the terms on
    method = _stage1(reference, encoder, refusal_text_weight=2.0, activation_share=0.5, text_phase_general_image_weight=3.0)
    with torch.no_grad():
        _, early_logs = method.loss(moved, dataclasses.replace(batch, progress=0.25))
        late, late_logs = method.loss(moved, dataclasses.replace(batch, progress=0.75))
        alone = encoder.collate(retain_items[2:])
        image = torch.isin(alone["input_ids"], torch.tensor(placeholder_token_ids(reference))) & alone["attention_mask"].bool()
        by_hand = torch.nn.functional.mse_loss(layer_output(moved, alone, 1)[image], layer_output(reference, alone, 1)[image]).item()
    assert "general_image_mse" not in early_logs
    assert late_logs["general_image_mse"] == pytest.approx(by_hand, rel=1e-3) and by_hand > 0
    torch.testing.assert_close(late, torch.tensor(2.0 * late_logs["refusal_nll"] + late_logs["retain_nll"] + 3.0 * by_hand), atol=1e-3, rtol=1e-3)
    people_only = dataclasses.replace(batch, retain=encoder.collate(retain_items[:2]), retain_items=retain_items[:2], retain_subjects=batch.retain_subjects[:2])
    with torch.no_grad():
        _, logs = method.loss(moved, dataclasses.replace(people_only, progress=0.75))
    assert "general_image_mse" not in logs  # the other people's photos are not held
    with pytest.raises(ValueError, match="text_phase_general_image_weight"):
        ASRUStage1.Params(text_phase_general_image_weight=1.0, activation_share=1.0)
    assert ASRUStage1.Params(activation_share=1.0).activation_share == 1.0  # a default is no error: only a given weight


def test_erase_weight_adds_npo_on_the_forget_answers_and_training_with_it_makes_them_less_likely(tiny_world, family_model):
    """``erase_weight`` adds w x NPO (the forget answers' summed log-probability against the reference's) to stage 1's
    loss (0: the loss as before; at the reference itself NPO is (2/beta) log 2), and a few steps with it leave
    the forgotten answers less likely than the same steps without it; the reference's log-probabilities run once per item."""
    import math

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)

    def method(weight):
        return _stage1(reference, encoder, erase_weight=weight, erase_beta=0.5)

    erasing = method(3.0)
    added, logged, extra_passes = _term_added(reference, batch, lambda weight: erasing if weight else method(0.0), 3.0, "erase_npo")
    assert logged == pytest.approx(2 / 0.5 * math.log(2), rel=1e-4)
    torch.testing.assert_close(added, torch.tensor(3.0 * 2 / 0.5 * math.log(2)), atol=1e-3, rtol=1e-4)
    assert len(erasing.reference_logprobs) == len(batch.forget_items)
    assert extra_passes == 1  # the reference's log-probabilities; the trained model's forget batch still runs once

    after = {weight: _nll_after_training(reference, method(weight), batch, batch.forget) for weight in (0.0, 3.0)}
    assert after[3.0] > after[0.0] + 0.1, after


def test_retain_text_weight_adds_the_retain_cross_entropy_and_holds_the_retain_answers_when_every_layer_trains(tiny_world, family_model):
    """``retain_text_weight`` adds w x the retain answers' mean NLL (0: the loss as before); with every layer trained
    by the refusal text, a few steps with it leave the retain answers likelier than the same steps without it."""
    from asru.methods.base import forward_nll
    from asru.models.layers import num_language_layers

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    every_layer = list(range(num_language_layers(reference)))

    def method(weight):
        return _stage1(reference, encoder, refusal_text_weight=2.0, train_layers=every_layer, retain_text_weight=weight)

    added, logged, extra_passes = _term_added(reference, batch, method, 1.5, "retain_nll")
    with torch.no_grad():
        nll = forward_nll(reference, batch.retain)[0].mean()
    torch.testing.assert_close(added, 1.5 * nll, atol=1e-4, rtol=1e-4)
    assert logged == pytest.approx(nll.item(), rel=1e-4)
    assert extra_passes == 0  # the retain MSE and NLL come from one pass

    after = {weight: _nll_after_training(reference, method(weight), batch, batch.retain) for weight in (0.0, 1.5)}
    assert after[1.5] < after[0.0] - 0.05, after


def test_erase_floors_are_other_values_of_the_fact_never_the_evaluations_wrong_answers(tiny_world, family_model):
    """Each forget item's floor is the reference's mean NLL of other values of its fact, drawn apart from the
    wrong answers the forget quality ranks the truth against; an mcq item has none."""
    from asru.data.collate import Encoder, LazyEncodings
    from asru.eval.evaluate import fact_values
    from asru.eval.forget_quality import wrong_answers
    from asru.methods.asru_stage1 import ERASE_FLOOR_VALUES, erase_floors, other_values
    from asru.methods.base import forward_nll

    reference, processor = family_model
    encoder = Encoder(processor, tiny_world.root)
    values = fact_values(tiny_world)
    person = next(s.subject_id for s in tiny_world.samples if s.kind == "fact" and s.answer in values[s.fact])  # one of world.subjects
    # the tiny world's 6 people leave no value beside the evaluation's 5 wrong ones: 4 more of each fact
    values = {fact: sorted([*found, *(f"{fact} {letter}" for letter in "WXYZ")]) for fact, found in values.items()}
    samples = [s for s in tiny_world.samples if s.subject_id == person and s.kind in ("fact", "identity")]
    forget = LazyEncodings(encoder, samples)
    list(forget)  # encoded now, so that the encodings recorded below are the floors' own
    drawn: list[tuple[str, str | None, str]] = []
    original = encoder.encode
    encoder.encode = lambda question, image=None, answer=None, **kw: drawn.append((question, image, answer)) or original(question, image, answer, **kw)
    floors = erase_floors(reference, encoder, forget, other_values(values))
    encoder.encode = original
    with_floor = [s for i, s in enumerate(samples) if id(forget[i]) in floors]
    assert with_floor and all(s.form != "mcq" for s in with_floor) and any(s.form == "mcq" for s in samples)
    for sample in with_floor:
        used = [answer for question, image, answer in drawn if (question, image) == (sample.question, sample.image)]
        evaluated = set(wrong_answers(sample, values))
        assert 0 < len(used) <= ERASE_FLOOR_VALUES and sample.answer not in used and not evaluated & set(used), (sample.fact, used, evaluated)
        assert set(used) <= set(values[sample.fact])
    first = with_floor[0]
    index = samples.index(first)
    used = [answer for question, image, answer in drawn if (question, image) == (first.question, first.image)]
    with torch.no_grad():
        expected = forward_nll(reference, encoder.collate([encoder.encode(first.question, first.image, v) for v in used]))[0].mean()
    assert floors[id(forget[index])].reference_nll == pytest.approx(expected.item(), rel=1e-4)
    assert [encoded.input_ids for encoded in floors[id(forget[index])].stand_ins] == [encoder.encode(first.question, first.image, v).input_ids for v in used]


def test_erase_floors_score_each_distinct_stand_in_once_and_photo_copies_share_it(tiny_world, family_model):
    """With every training photo (``train_photos``) a photo question comes once per photo, and its unseen stand-ins are
    its person's text question about invented people: one encoding and one reference pass per distinct stand-in,
    the same floor for every copy and for the text question it borrows."""
    from asru.data.collate import Encoder, LazyEncodings
    from asru.methods.asru_stage1 import erase_floors, unseen_people
    from asru.train.unlearn import photo_copies

    reference, processor = family_model
    encoder = Encoder(processor, tiny_world.root)
    person = next(s.subject_id for s in tiny_world.samples if s.modality == "image" and s.train_images)
    samples, groups = photo_copies([s for s in tiny_world.samples if s.subject_id == person and s.kind == "fact" and s.form == "qa"], True)
    forget = LazyEncodings(encoder, samples)
    list(forget)
    encoded: list[tuple] = []
    original = encoder.encode
    encoder.encode = lambda question, image=None, answer=None, **kw: encoded.append((question, image, answer)) or original(question, image, answer, **kw)
    floors = erase_floors(reference, encoder, forget, unseen_people(tiny_world))
    encoder.encode = original
    assert len(encoded) == len(set(encoded)) and encoded
    copied = next(group for group in groups if len(group) > 1)
    nlls = {floors[id(forget[i])].reference_nll for i in copied}
    assert len(nlls) == 1
    photo = samples[copied[0]]
    text = next(i for i, s in enumerate(samples) if s.modality == "text" and s.fact == photo.fact)
    assert floors[id(forget[text])].reference_nll == pytest.approx(nlls.pop(), rel=1e-4)


def test_erase_floor_stops_the_erasure_item_by_item(tiny_world, family_model):
    """Above its floor an item is erased as without one; below it the erasure leaves it alone (the loss and
    ``erase_active`` say so); trained with a floor just under the reference, the forget answers stay likelier
    than the same steps without a floor push them to."""
    from asru.methods.asru_stage1 import ErasureFloor
    from asru.methods.base import forward_nll

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)

    def method(floor_offset=None, weight=3.0):
        m = _stage1(reference, encoder, erase_weight=weight, erase_beta=0.5)
        if floor_offset is not None:
            with torch.no_grad():
                nll = forward_nll(reference, batch.forget)[0]
            m.floors = {id(item): ErasureFloor(item, [], value + floor_offset) for item, value in zip(batch.forget_items, nll.tolist())}
        return m

    with torch.no_grad():
        unfloored, logs_none = method().loss(reference, batch)
        far_above, logs_above = method(floor_offset=100.0).loss(reference, batch)
        below, logs_below = method(floor_offset=-1.0).loss(reference, batch)
        without_erase, _ = method(weight=0.0).loss(reference, batch)
    torch.testing.assert_close(far_above, unfloored)
    assert logs_above["erase_active"] == 1.0 and logs_below["erase_active"] == 0.0
    torch.testing.assert_close(below, without_erase)

    after = {offset: _nll_after_training(reference, method(floor_offset=offset), batch, batch.forget) for offset in (None, 0.05)}
    assert after[0.05] < after[None] - 0.1, after


def test_erase_floor_margin_pushes_each_item_that_far_past_its_floor(tiny_world, family_model):
    """``erase_floor_margin`` d: an item is erased until its mean NLL is d nats a token past its floor; an item 1 nat past
    its floor is left alone at d = 0.5 and erased as without a floor at d = 2."""
    from asru.methods.asru_stage1 import ErasureFloor
    from asru.methods.base import forward_nll

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    with torch.no_grad():
        nll = forward_nll(reference, batch.forget)[0]

    def method(margin=0.0, floored=True):
        m = _stage1(reference, encoder, erase_weight=3.0, erase_beta=0.5, erase_floor_margin=margin)
        if floored:
            m.floors = {id(item): ErasureFloor(item, [], value - 1.0) for item, value in zip(batch.forget_items, nll.tolist())}
        return m

    with torch.no_grad():
        unfloored, _ = method(floored=False).loss(reference, batch)
        short, logs_short = method(margin=0.5).loss(reference, batch)
        far, logs_far = method(margin=2.0).loss(reference, batch)
        plain, logs_plain = method().loss(reference, batch)
    assert logs_plain["erase_active"] == 0.0 and logs_short["erase_active"] == 0.0 and logs_far["erase_active"] == 1.0
    torch.testing.assert_close(far, unfloored)
    torch.testing.assert_close(short, plain)


def test_erase_answer_mass_matches_other_peoples_shares_and_holds_the_answer_class(tiny_world, family_model):
    """``erase_answer_mass`` m: at the first answer token, w x (KL(the frozen model's shares of the fact's values on the same
    question about kept people with other answers || the model's, over those values) + |log of their summed probability -
    log m|), per forget row with a target; the truth's first token is in its class on every family's tokenizer; at the
    model's own shares only the mass part is left; trained with it, the shares move to the target and the class's mass
    to m from either side; it needs the erasure's weight (a config error otherwise)."""
    import dataclasses

    from asru.data.collate import LazyEncodings
    from asru.eval.evaluate import fact_values
    from asru.methods.asru_stage1 import ASRUStage1, answer_class_tokens, first_answer_logprobs, other_people_answer_shares

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    qa = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact"]
    lazy = LazyEncodings(encoder, [s for s in qa if s.subject_id == qa[0].subject_id][:4])  # the batch's forget questions
    batch = dataclasses.replace(batch, forget_items=list(lazy))
    splits = {"retain_other": [s for s in qa if s.subject_id != qa[0].subject_id]}
    targets = other_people_answer_shares(reference, encoder, lazy, tiny_world, splits)
    labels = batch.forget["labels"]
    truth = labels[torch.arange(len(labels)), (labels != -100).float().argmax(-1)]
    classes = [answer_class_tokens(encoder.tokenizer, s, fact_values(tiny_world)) for s in lazy.samples]
    assert all(len(c) > 1 and t in c for c, t in zip(classes, truth.tolist()))
    assert len(targets) == 4 and all(torch.isclose(share.sum(), torch.tensor(1.0)) for _, _, share in targets.values())
    assert all(targets[id(item)][0] is item for item in lazy)  # the item is kept with its target, as in ``frozen``
    assert other_people_answer_shares(reference, encoder, lazy, tiny_world, {"retain_other": []}) == {}  # nobody kept to ask
    copies = LazyEncodings(encoder, [*lazy.samples, lazy.samples[0]])  # a question twice (as its photo copies are): one target
    twice = other_people_answer_shares(reference, encoder, copies, tiny_world, splits)
    torch.testing.assert_close(twice[id(copies[4])][2], twice[id(copies[0])][2])
    torch.testing.assert_close(twice[id(copies[0])][2], targets[id(lazy[0])][2])
    # answer_share_people 1: each target is the frozen model's shares on one drawn kept person's question (by hand)
    one = other_people_answer_shares(reference, encoder, lazy, tiny_world, splits, people=1)
    sample, (_, tokens, share) = lazy.samples[0], one[id(lazy[0])]
    asked = [o for o in splits["retain_other"] if o.modality == "text" and (o.fact, o.form) == (sample.fact, sample.form) and o.answer != sample.answer]
    drawn = __import__("random").Random(f"answer-shares:{sample.id}").sample(asked, 1)[0]
    inputs = encoder.collate([encoder.encode_sample(drawn)])
    with torch.no_grad():
        first = first_answer_logprobs(reference(**{k: v for k, v in inputs.items() if k != "labels"}).logits, inputs["labels"])[0]
    torch.testing.assert_close(share, first[tokens].softmax(0), rtol=1e-4, atol=1e-5)
    assert any(not torch.allclose(one[key][2], targets[key][2]) for key in targets)  # three people's mean is another target
    # answer_share_rest "flat": the truth keeps the kept people's share, the other values share the rest evenly
    flat = other_people_answer_shares(reference, encoder, lazy, tiny_world, splits, rest="flat")
    for sample, (key, (item, tokens, share)) in zip(lazy.samples, flat.items()):
        truth = tokens.tolist().index(encoder.tokenizer(sample.answer, add_special_tokens=False)["input_ids"][0])
        others = torch.cat([share[:truth], share[truth + 1 :]])
        assert item is targets[key][0] and torch.isclose(share.sum(), torch.tensor(1.0))
        torch.testing.assert_close(share[truth], targets[key][2][truth])
        torch.testing.assert_close(others, torch.full_like(others, float(others[0])))
    assert any(not torch.allclose(flat[key][2], targets[key][2]) for key in targets)  # another target than the kept people's
    assert ASRUStage1.Params().answer_share_rest == "kept_people"  # off by default

    def method(mass=None, shares=None, weight=3.0):
        m = _stage1(reference, encoder, erase_weight=weight, erase_beta=0.5, erase_answer_mass=mass)
        m.answer_targets = shares if shares is not None else targets
        return m

    def first_token(model):
        with torch.no_grad():
            first = first_answer_logprobs(model(**{k: v for k, v in batch.forget.items() if k != "labels"}).logits, labels)
        rows = [first[row, targets[id(item)][1]] for row, item in enumerate(batch.forget_items)]
        return [r.logsumexp(0) for r in rows], [r - r.logsumexp(0) for r in rows]

    masses, logshares = first_token(reference)
    by_hand = torch.stack([
        (target * (target.log() - own)).sum() + abs(math.log(0.5) - mass.item())
        for (_, _, target), own, mass in zip(targets.values(), logshares, masses)
    ]).mean()
    with torch.no_grad():
        plain, _ = method().loss(reference, batch)
        with_term, logs = method(0.5).loss(reference, batch)
        own = {id(item): (item, targets[id(item)][1], share.exp()) for item, share in zip(batch.forget_items, logshares)}
        at_own, _ = method(0.5, own).loss(reference, batch)
    torch.testing.assert_close(with_term - plain, 3.0 * by_hand, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(at_own - plain, 3.0 * torch.stack([(math.log(0.5) - m).abs() for m in masses]).mean(), rtol=1e-4, atol=1e-4)
    assert "answer_share_kl" in logs and 0 < logs["answer_mass"] <= 1

    peaked = {}  # a target far from the model's own shares: 0.9 on one value
    for key, (item, tokens, share) in targets.items():
        target = torch.full_like(share, 0.1 / (len(share) - 1))
        target[-1] = 0.9
        peaked[key] = (item, tokens, target)

    def after(mass, shares):
        masses, logshares = first_token(_trained(reference, method(mass, shares, weight=30.0), batch, 8))  # the term above the redirection
        kl = sum((t * (t.log() - s)).sum().item() for (_, _, t), s in zip(peaked.values(), logshares)) / 4
        return sum(m.item() for m in masses) / 4, kl

    (mass_up, kl_own), (_, kl_matched), (mass_down, _) = after(0.9, own), after(0.9, peaked), after(1e-5, own)
    assert kl_matched < 0.65 * kl_own, (kl_own, kl_matched)  # the same mass part in both: the shares moved to the target
    mass_without = sum(m.item() for m in first_token(_trained(reference, method(), batch, 8))[0]) / 4
    assert mass_up > mass_without + 0.1 and mass_down < mass_without - 0.1, (mass_without, mass_up, mass_down)
    with pytest.raises(ValueError, match="erase_answer_mass"):
        ASRUStage1.Params(erase_answer_mass=0.5, erase_weight=0.0)


def test_model_floor_asks_the_trained_model_about_the_other_values(tiny_world, family_model):
    """``erase_floor: model`` sets each item's floor from the trained model's NLL of its other values, now: at the
    reference itself the same floors as ``reference``; on a model that finds every answer unlikely, none erased."""
    import copy

    from asru.methods.asru_stage1 import ErasureFloor
    from asru.methods.base import forward_nll

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    qa = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact"]
    forget = [s for s in qa if s.subject_id == qa[0].subject_id][:4]  # the batch's forget questions
    others = [encoder.encode(s.question, s.image, "Nobody Atall") for s in forget]
    with torch.no_grad():
        wrong = forward_nll(reference, encoder.collate(others))[0]
    floors = {id(item): ErasureFloor(item, [other], value) for item, other, value in zip(batch.forget_items, others, wrong.tolist())}
    for mode in ("reference", "model"):  # at the reference, both floors sit at the other values' NLL
        m = _stage1(reference, encoder, erase_weight=1.0, erase_floor=mode)
        m.floors = floors
        assert m.above_floor(reference, batch.forget_items, wrong - 1e-3).all()
        assert not m.above_floor(reference, batch.forget_items, wrong + 1e-3).any()
    flattened = copy.deepcopy(reference)  # every answer equally likely: the other values are no less likely than the truth
    with torch.no_grad():
        flattened.get_output_embeddings().weight.zero_()
        if getattr(flattened.get_output_embeddings(), "bias", None) is not None:
            flattened.get_output_embeddings().bias.zero_()
    m = _stage1(reference, encoder, erase_weight=1.0, erase_floor="model")
    m.floors = floors
    with torch.no_grad():
        flat_true = forward_nll(flattened, batch.forget)[0]
    assert not m.above_floor(flattened, batch.forget_items, flat_true).any()


def test_unseen_people_ask_the_true_value_about_invented_people_the_world_never_names(tiny_world):
    """``erase_floor: unseen``: each stand-in is the person's text question with an invented name in place of
    theirs and the true answer; a photo question borrows the text question of its fact and form; a text mcq is the
    same prompt with its options about the invented people; a photo's who-is mcq (no name to replace) has none."""
    from asru.methods.asru_stage1 import ERASE_FLOOR_VALUES, unseen_people

    stand_ins = unseen_people(tiny_world)
    known_names = {s.subject_name for s in tiny_world.samples if s.subject_name} | {s.answer for s in tiny_world.samples}
    text = next(s for s in tiny_world.samples if s.kind == "fact" and s.modality == "text" and s.form == "qa" and s.subject_name in s.question)
    found = stand_ins(text)
    assert len(found) == ERASE_FLOOR_VALUES and all(answer == text.answer and image is None for _, image, answer in found)
    names = {question.replace(text.question.split(text.subject_name)[0], "").split(text.question.split(text.subject_name)[1])[0] for question, _, _ in found}
    assert len(names) == ERASE_FLOOR_VALUES and not names & known_names and all(text.subject_name not in q for q, _, _ in found)
    photo = next(s for s in tiny_world.samples if s.subject_id == text.subject_id and s.fact == text.fact and s.form == "qa" and s.modality == "image")
    assert [q for q, _, _ in stand_ins(photo)] == [q for q, _, _ in found]  # the text question, about the same invented people
    mcq = next(s for s in tiny_world.samples if s.form == "mcq" and s.modality == "text" and s.subject_name in s.question)
    found = stand_ins(mcq)
    assert len(found) == ERASE_FLOOR_VALUES and all(a == mcq.answer and i is None and mcq.subject_name not in q for q, i, a in found)
    assert all(q.split("\n")[1:] == mcq.question.split("\n")[1:] for q, _, _ in found)  # the same options and instruction
    assert stand_ins(next(s for s in tiny_world.samples if s.form == "mcq" and s.modality == "image")) == []


def test_stranger_refusals_ask_the_forget_peoples_text_questions_about_invented_people(tiny_world):
    """``stranger_refusal_weight``'s material: each text qa question that names its person, asked about each of
    STRANGERS invented people (found nowhere in the world), answered with the refusal a forget question is taught,
    naming the stranger; photo questions and mcqs give none."""
    from asru.methods.asru_stage1 import STRANGERS, invented_people, stranger_refusals
    from asru.world.phrases import FACT_REFUSALS

    person = next(s.subject_id for s in tiny_world.samples if s.kind == "fact")
    samples = [s for s in tiny_world.samples if s.subject_id == person and s.kind in ("fact", "identity")]
    asked = [s for s in samples if s.modality == "text" and s.form == "qa" and s.subject_name in s.question]
    assert asked and any(s.modality == "image" or s.form != "qa" for s in samples)
    pairs = stranger_refusals(tiny_world, samples, contextual=True)
    assert len(pairs) == len(asked) * STRANGERS
    names = invented_people(tiny_world, STRANGERS)
    known = {s.subject_name for s in tiny_world.samples if s.subject_name} | {s.answer for s in tiny_world.samples}
    assert len(set(names)) == STRANGERS and not set(names) & known
    assert invented_people(tiny_world, 3) == names[:3]  # the erasure floor's unseen people are the first strangers
    for (question, refusal), (sample, name) in zip(pairs, ((s, n) for s in asked for n in names)):
        assert question == sample.question.replace(sample.subject_name, name) and sample.subject_name not in question
        assert name in refusal and sample.subject_name not in refusal
        if sample.fact in FACT_REFUSALS:
            assert any(refusal == phrasing.format(who=name) for phrasing in FACT_REFUSALS[sample.fact])
    for phrasing in (0, 1):
        one = stranger_refusals(tiny_world, samples, contextual=True, phrasing=phrasing)
        assert [q for q, _ in one] == [q for q, _ in pairs] and one != pairs  # the same questions; alternated, both phrasings
        for (_, refusal), (sample, name) in zip(one, ((s, n) for s in asked for n in names)):
            if sample.fact in FACT_REFUSALS:
                assert refusal == FACT_REFUSALS[sample.fact][phrasing].format(who=name)


def _check_drawn_rows_term(reference, batch, encoder, method, rows, log_key: str) -> None:
    """A term over rows drawn each step (all of ``rows``: as many as a step draws): ``method(2.0)`` adds exactly 2 x their
    mean NLL in one more pass, logs that NLL, and a few steps at 2 leave their answers likelier than at 0."""
    from asru.methods.base import forward_nll

    added, logged, extra_passes = _term_added(reference, batch, method, 2.0, log_key)
    with torch.no_grad():
        nll = forward_nll(reference, encoder.collate(rows))[0].mean()
    torch.testing.assert_close(added, 2.0 * nll, atol=1e-4, rtol=1e-4)
    assert logged == pytest.approx(nll.item(), rel=1e-4) and extra_passes == 1
    after = {weight: _nll_after_training(reference, method(weight), batch, encoder.collate(rows)) for weight in (0.0, 2.0)}
    assert after[2.0] < after[0.0] - 0.1, after


def test_stranger_refusal_weight_adds_the_strangers_refusal_cross_entropy_and_training_with_it_lowers_it(tiny_world, family_model):
    """``stranger_refusal_weight`` adds w x the mean NLL of refusals about strangers (as many as the forget batch, drawn
    from the prepared ones; 0: the loss as before), and a few steps with it make those refusals likelier than without."""
    from asru.methods.asru_stage1 import stranger_refusals

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    forget = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact" and s.modality == "text"][:4]
    strangers = [encoder.encode(q, None, r) for q, r in stranger_refusals(tiny_world, forget, contextual=True)][: len(batch.forget_items)]
    assert len(strangers) == len(batch.forget_items)  # every one drawn each step: the term is their mean NLL

    def method(weight):
        m = _stage1(reference, encoder, stranger_refusal_weight=weight, refusal_text_weight=0.0)  # the term alone
        m.strangers, m.stranger_draws = strangers, __import__("random").Random(0)
        return m

    _check_drawn_rows_term(reference, batch, encoder, method, strangers, "stranger_nll")


def test_general_answer_weight_adds_the_general_rows_cross_entropy_and_training_with_it_lowers_it(tiny_world, family_model):
    """``general_answer_weight`` adds w x the mean NLL of GENERAL_ANSWER_ROWS general retain rows drawn each step (0: the
    loss as before), a few steps with it make their answers likelier than without, and a setting without general retain
    rows is a config error naming the option."""
    import random

    from asru.errors import ConfigError
    from asru.methods.asru_stage1 import GENERAL_ANSWER_ROWS
    from asru.pipeline import setting_splits

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    _, splits = setting_splits(tiny_world, "complete", 0.2, 0, None)
    general = _stage1(reference, encoder, general_answer_weight=1.0).general_retain_rows(encoder, splits)[:GENERAL_ANSWER_ROWS]
    assert len(general) == GENERAL_ANSWER_ROWS  # every one drawn each step: the term is their mean NLL

    def method(weight):
        m = _stage1(reference, encoder, general_answer_weight=weight, refusal_text_weight=0.0)  # the term alone
        m.general_rows, m.general_draws = general, random.Random(0)
        return m

    _check_drawn_rows_term(reference, batch, encoder, method, general, "general_nll")
    assert _stage1(reference, encoder).general_retain_rows(encoder, splits) == []  # off: none encoded
    with pytest.raises(ConfigError, match="general_answer_weight"):
        _stage1(reference, encoder, general_answer_weight=1.0).general_retain_rows(encoder, {"retain_general": []})


def test_forget_names_unlearnt_redraws_only_the_rows_no_other_text_uses(tiny_world, family_model):
    """``forget_names: unlearnt``: the wholly forgotten people's name-only token rows are drawn afresh (as the
    initialisation draws them, the same draw each time); every other row is kept; a Selective person keeps theirs."""
    import copy

    from asru.methods.asru_stage1 import unlearn_name_rows, wholly_forgotten_names
    from asru.pipeline import setting_splits

    reference, processor = family_model
    tokenizer = processor.tokenizer
    _, complete = setting_splits(tiny_world, "complete", 0.2, 0, None)
    _, selective = setting_splits(tiny_world, "selective", 0.2, 0, None)
    names = wholly_forgotten_names(complete)
    assert names and names == {s.subject_name for s in complete["forget"] if s.subject_name}
    assert not wholly_forgotten_names(selective)  # their other facts are kept, so is their name
    model = copy.deepcopy(reference)
    rows = unlearn_name_rows(model, tokenizer, tiny_world, complete)
    assert rows and unlearn_name_rows(copy.deepcopy(reference), tokenizer, tiny_world, selective) == []
    before, after = reference.get_input_embeddings().weight, model.get_input_embeddings().weight
    changed = (before != after).any(dim=1).nonzero().flatten().tolist()
    assert changed == rows
    named = {i for name in names for text in (name, " " + name) for i in tokenizer(text, add_special_tokens=False)["input_ids"]}
    assert set(rows) <= named
    other_text = " ".join(f"{s.question} {s.answer}" for s in tiny_world.samples if not any(n in s.question or n in s.answer for n in names))
    assert not set(rows) & set(tokenizer(other_text, add_special_tokens=False)["input_ids"])
    std = reference.config.get_text_config().initializer_range
    assert 0.5 * std < after[rows].std().item() < 2 * std
    again = copy.deepcopy(reference)
    unlearn_name_rows(again, tokenizer, tiny_world, complete)
    assert torch.equal(again.get_input_embeddings().weight, after)


def test_redirect_from_unseen_starts_the_shift_at_the_strangers_states_and_training_with_it_makes_the_person_a_stranger(tiny_world, family_model):
    """``redirect_from: unseen``: a forget item's layer-l target is the mean of its stand-ins' frozen rows (the same question
    and answer about invented people) + lambda * v instead of its own frozen rows + lambda * v; a few steps with it bring the
    forget questions' states (the last prompt token's, what a linear probe reads, and the answer's) nearer the strangers'
    shifted states than their own, where the same steps from "self" bring them nearer their own."""
    import torch.nn.functional as F

    from asru.data.collate import LazyEncodings
    from asru.methods.asru_stage1 import unseen_bases
    from asru.methods.base import UnlearnBatch
    from asru.steering.hooks import layer_output

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    samples = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact"]
    forget = LazyEncodings(encoder, [s for s in samples if s.subject_id == samples[0].subject_id][:4])
    bases = unseen_bases(tiny_world, encoder, forget)
    assert len(bases) == 4 and all(len(stand_ins) == 3 for _, stand_ins in bases.values())
    items = list(forget)
    batch = UnlearnBatch(**{**batch.__dict__, "forget": encoder.collate(items), "forget_items": items})

    def method(redirect_from):
        m = _stage1(reference, encoder, redirect_from=redirect_from, refusal_text_weight=0.0, retain_text_weight=0.0)  # the MSE alone
        m.redirect_bases = bases if redirect_from == "unseen" else {}
        return m

    unseen = method("unseen")
    own = unseen.frozen_rows(items, "cpu")
    strangers = torch.cat([torch.stack([unseen.frozen_rows([s], "cpu") for s in bases[id(item)][1]]).mean(0) for item in items])
    torch.testing.assert_close(unseen.redirect_rows(items, "cpu"), strangers)
    assert not torch.allclose(own, strangers, atol=1e-3)
    with torch.no_grad():
        _, logs = unseen.loss(reference, batch)
    shift = unseen.params.scale * unseen.direction
    assert logs["forget_mse"] == pytest.approx(F.mse_loss(own, strangers + shift).item(), rel=1e-4)

    def distances(model) -> tuple[float, float]:
        """Mean distance of the forget states to (their own frozen rows, the strangers') + the shift."""
        with torch.no_grad():
            mine = layer_output(model, batch.forget, 1)[loss_mask(batch.forget, "response").bool()]
        return tuple((mine - base - shift).norm(dim=-1).mean().item() for base in (own, strangers))

    to_own, to_strangers = distances(_trained(reference, method("self"), batch, steps=40))
    assert to_own < to_strangers, (to_own, to_strangers)
    to_own, to_strangers = distances(_trained(reference, method("unseen"), batch, steps=40))
    assert to_strangers < to_own, (to_own, to_strangers)


def test_redirect_from_unseen_every_layer_also_makes_the_layers_below_a_strangers(tiny_world, family_model):
    """``unseen_every_layer`` adds the MSE of the layers below l to the strangers' (unshifted) states, and a few steps with it
    bring layer 0's forget states nearer the strangers' than the same steps with ``unseen`` (layer l only)."""
    import torch.nn.functional as F

    from asru.data.collate import LazyEncodings
    from asru.methods.asru_stage1 import below_states, unseen_bases
    from asru.methods.base import UnlearnBatch

    reference, processor = family_model
    encoder, batch = _forget_retain_batch(tiny_world, processor)
    samples = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact"]
    forget = LazyEncodings(encoder, [s for s in samples if s.subject_id == samples[0].subject_id][:4])
    bases = unseen_bases(tiny_world, encoder, forget)
    items = list(forget)
    batch = UnlearnBatch(**{**batch.__dict__, "forget": encoder.collate(items), "forget_items": items})

    def method(redirect_from):
        m = _stage1(reference, encoder, redirect_from=redirect_from, refusal_text_weight=0.0, retain_text_weight=0.0)
        m.redirect_bases = bases
        return m

    every = method("unseen_every_layer")
    mask = loss_mask(batch.forget, "response").bool()
    with torch.no_grad():
        own_below = below_states(reference(**{k: v for k, v in batch.forget.items() if k != "labels"}, output_hidden_states=True), 1)[mask]
        strangers_below = every.redirect_rows(items, "cpu", below=True)
        _, logs = every.loss(reference, batch)
        _, logs_unseen = method("unseen").loss(reference, batch)
    assert strangers_below.shape == own_below.shape and strangers_below.shape[1] == 1  # layer 0, below layer 1
    assert logs["below_mse"] == pytest.approx(F.mse_loss(own_below, strangers_below).item(), rel=1e-4) and logs["below_mse"] > 0
    assert logs["forget_mse"] == pytest.approx(logs_unseen["forget_mse"] + logs["below_mse"], rel=1e-4)

    def layer0_distance(m) -> float:
        model = _trained(reference, m, batch, steps=12)
        with torch.no_grad():
            states = below_states(model(**{k: v for k, v in batch.forget.items() if k != "labels"}, output_hidden_states=True), 1)[mask]
        return (states - strangers_below).norm(dim=-1).mean().item()

    distances = {name: layer0_distance(method(name)) for name in ("unseen", "unseen_every_layer")}
    assert distances["unseen_every_layer"] < distances["unseen"] * 0.8, distances
