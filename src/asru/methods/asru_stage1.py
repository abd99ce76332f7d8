"""ASRU stage 1, activation redirection (Guang et al., ICML 2026; DESIGN §7).

Train the MLP and attention value/output projections of layers 0..l (the authors: only
``layers[l].mlp.down_proj``; see ``Params``) so that on forget inputs h_l ~ h_l^frozen + lambda * v
(v = the knowledge-absence direction) and on retain inputs h_l ~ h_l^frozen (MSE, weighted by ``retain_weight``).
Where the forget and retain losses are taken (``positions``):

- ``"response"`` (default): the last prompt token and every answer token — the positions that
  see the whole question (name or face) and produce the answer.
- ``"tokens"``: every real prompt and answer token on both sides. The chat-template prefix is the
  same for forget and retain prompts, so a causal model has the same hidden state there and the
  two targets (h + lambda*v and h) contradict each other: the optimum shifts *every* prompt a bit
  toward refusal. Kept to measure exactly that (benchmarks/asru.py).
- ``"last"``: the authors' single last position of the padded batch (with their right padding
  often a padding token; our batches are left-padded, so it is the last answer token).

Continuation anchor (``continuation_weight`` > 0, asru's addition): the redirection above is
learned wherever the person is in context, so while the model *generates* its refusal the
hidden state keeps being pushed toward "start refusing" and the answer degenerates into
"I'm not able toIIIIIII" (measured on the 8-person world: 167 of 238 forget answers gibberish).
The anchor teaches the opposite on the refusal's own tokens: on the forget prompt followed by a
refusal, the answer positions keep the frozen model's states, i.e. once refusing, go on as the
original model would — which refuses fluently. The authors' recipe has no anchor (0).

Erasure (``erase_weight`` > 0, asru's addition, on by default since 2026-12-05): NPO on the forget
answers, so that the fact is gone from the weights and not only behind a refusal, item by item only
until the true answer is no likelier than the same value asked about people the model never saw
(``erase_floor``): where a model that never saw the person stands, not below, which would itself
single the forget set out.

Text last (``activation_share`` 0.5, asru's addition, on by default since 2026-12-06): the activation terms (the redirection
and the retain MSE) train in the first share of the steps only, so that the per-fact refusal text, which they hold back,
is learnt last from the redirected model; meanwhile the layer-l states at the image positions of the general retain rows
(questions about no person) stay held (``text_phase_general_image_weight``), or the text moves how a plain picture is read.

Strangers (``stranger_refusal_weight`` > 0, asru's addition, on by default since 2026-12-05): the refusal text also on the forget
people's questions asked about invented people, names found nowhere in the world. A model that never
saw the forgotten person answers about them as about any stranger; one that refuses only them singles
them out (the refusal is itself the membership tell PrivLeak reads), and its answer about a stranger is
a hallucination either way.
"""

from __future__ import annotations

import hashlib
import math
import random
import warnings
from dataclasses import dataclass
from typing import Callable, ClassVar, Literal, Sequence

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from asru.config import StrictConfig, merge
from asru.data.collate import IGNORE_INDEX, Encoded
from asru.data.schema import Sample
from asru.errors import ConfigError
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import answer_lengths, answer_nll, npo, sequence_logprob
from asru.models.layers import num_language_layers, placeholder_token_ids
from asru.steering.hooks import forward_with_layer_output, layer_output
from asru.steering.refusal import knowledge_absence_direction


def loss_mask(inputs: dict[str, torch.Tensor], positions: str, image_tokens: Sequence[int] = ()) -> torch.Tensor:
    """[B, T] 0/1 mask of the positions where the activation loss is taken (``"image"``: the image placeholder tokens,
    ``image_tokens``, whose states carry the picture into the language model)."""
    if positions == "tokens":
        return inputs["attention_mask"]
    if positions == "image":
        return torch.isin(inputs["input_ids"], torch.tensor(list(image_tokens), device=inputs["input_ids"].device)).long() * inputs["attention_mask"]
    if positions == "response":
        answer = inputs["labels"] != IGNORE_INDEX
        predicts_answer = torch.zeros_like(answer)
        predicts_answer[:, :-1] = answer[:, 1:]  # the last prompt token predicts the first answer token
        return (answer | predicts_answer).long() * inputs["attention_mask"]
    if positions == "answer":  # the answer tokens only (the continuation anchor)
        return (inputs["labels"] != IGNORE_INDEX).long() * inputs["attention_mask"]
    mask = torch.zeros_like(inputs["attention_mask"])
    mask[:, -1] = 1
    return mask


@register
class ASRUStage1(Method):
    name = "asru_stage1"
    uses_reference = True
    default_learning_rate = 3e-3
    # 480 since 2026-12-05 22:18 (stage1_steps480 in benchmarks/results/asru_defaults.md, by its rule written before its
    # runs: contextual share of the forget answers 0.70 -> 0.76 on validation seed 100, score 0.817 -> 0.816); 240 before
    default_steps = 480
    # every form the target was taught, each in its trained wording (asru.train.unlearn._training_samples): with qa
    # only, every cloze and MCQ forget answer in the demo was gibberish; adopted 2026-12-05 by its declared rule
    # (allforms_mcqfloor in benchmarks/results/asru_defaults.md: validation mean score 0.805 -> 0.826)
    default_train_forms = ("qa", "cloze", "mcq")
    # every training photo of a person, one drawn per visit (UnlearnConfig.train_photos); adopted 2026-12-06 by its declared
    # rule (train_photos_by_question in benchmarks/results/asru_defaults.md: validation mean worst prompt attack 0.070 ->
    # 0.017, Complete's cross-image 0.100 -> 0.050, mean score 0.830 -> 0.822)
    default_train_photos = True
    # 2: train_photos on by default (2026-12-06); 3: the erasure floors score each distinct stand-in once (the
    # same values, other batches: float rounding only); 4: refusal_text_weight 20; 5: text last (activation_share 0.5)
    # with the general image hold (text_phase_general_image_weight 5)
    revision = 5
    # the authors: lambda 3, retain weight 1, layers[l].mlp.down_proj only, the last position, lr 1e-4 (DESIGN §7)
    default_sources = {**dict.fromkeys(("layer", "scale", "redirect_from", "forget_names"), "paper"), **dict.fromkeys(("retain_weight", "positions", "modules", "train_layers", "learning_rate", "steps", "erase_weight", "erase_floor", "stranger_refusal_weight", "refusal_text_weight", "activation_share", "text_phase_general_image_weight"), "tuned here"), **dict.fromkeys(("continuation_weight", "boundary_retain", "text_phase_retain_text_weight", "erase_answer_mass", "answer_share_people", "answer_share_rest", "general_answer_weight", "refusal_phrasing", "erase_floor_margin"), "chosen here"), "erase_beta": "paper"}  # erase_beta: NPO's (open-unlearning)

    # ``preset: authors``: the authors' stage-1 recipe (DESIGN §7), every field not given explicitly; their
    # batch size (2) and epochs (3) are the run's own (batch_size, steps), so that presets compare at one budget
    AUTHORS: ClassVar[dict] = {
        "scale": 3.0, "retain_weight": 1.0, "positions": "last", "modules": ["mlp.down_proj"],
        "continuation_weight": 0.0, "boundary_retain": False, "refusal_text_weight": 0.0, "erase_weight": 0.0, "retain_text_weight": 0.0,
        "train_layers": None, "contextual_refusals": False, "stranger_refusal_weight": 0.0, "redirect_from": "self", "forget_names": "keep",
        "activation_share": 1.0, "text_phase_general_image_weight": 0.0, "refusal_phrasing": None,
    }
    AUTHORS_LEARNING_RATE: ClassVar[float] = 1e-4

    class Params(StrictConfig):
        # "asru": this project's tuned defaults; "authors": the published recipe (AUTHORS), for side-by-side tables
        preset: Literal["asru", "authors"] = "asru"
        layer: int | None = None  # default: the middle layer (authors: 17 of 36)
        # lambda: the authors' 3. Without the continuation anchor it made the tiny model's refusals
        # degenerate (so 1.5 was the default until 2026-12-03); with it, lambda 3 leaked 0.008 of the
        # forget questions instead of 0.174 at 1.5 (40-person world, Complete, validation seed 100)
        scale: float = 3.0
        retain_weight: float = 5.0
        positions: Literal["response", "tokens", "last"] = "response"
        # the authors train only the down-projection of layer l: too little capacity to tell forget
        # people from retain people on the embedded world (forget leakage 0.13 at retain 0.91)
        modules: list[str] = ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "self_attn.v_proj", "self_attn.o_proj"]
        # layers whose ``modules`` train: "all" (the default), a list, or None: every layer up to and including l
        # (the authors: l only). The MSE terms reach only layers up to l, so that the person is recognised (from
        # the name or the face) before the redirected layer; the refusal text, the erasure and the retain text
        # also train the layers above it, which write the answer
        train_layers: list[int] | Literal["all"] | None = "all"
        # weight of the continuation anchor's MSE (see the module docstring); 0 (the default since 2026-12-04,
        # with the refusal text on: the anchor holds the refusal tokens' states at the frozen model's and fights
        # the text) turns it off
        continuation_weight: float = Field(0.0, ge=0)
        # retain items at the boundary: half of each retain batch from the forget people's kept facts
        # (Selective / Personalized; none in Complete), so that the redirection keys on the fact asked,
        # not on the person (without: 19 of 26 kept facts refused on the 8-person world); stage 2 also
        # draws its retain items there first (asru.methods.asru.stage2_items). The authors: random retain items.
        boundary_retain: bool = True
        # weight of the refusal's cross-entropy on the forget prompts (the text UnlearnConfig.contextual_refusals
        # picks): redirection alone makes the tiny target refuse in its own trained private refusals, whatever
        # the question ("... this person's card details." to a birthplace question); 0 (the authors'): none
        # the default 10 with every layer trained, the anchor off and the retain text at 1 was adopted on validation
        # seed 100 of the 40-person world by a rule declared before the runs (README "ASRU"); 20 since 2026-12-06
        # (photos_refusal_text20 in benchmarks/results/asru_defaults.md: with every training photo, the mean share of
        # contextual refusals 0.70 -> 0.76, mean score 0.822 -> 0.854)
        refusal_text_weight: float = Field(20.0, ge=0)
        # the refusal text is about the fact asked ("I'm sorry, but I can't share where X was born.";
        # asru.world.phrases.FACT_REFUSALS) rather than the privacy templates; the run-level
        # UnlearnConfig.contextual_refusals gives the same text to IdK and DPO-IdK
        contextual_refusals: bool = True
        # which of its fact's phrasings (asru.world.phrases.FACT_REFUSALS, two a fact; 0: "I'm sorry, but I can't share where X
        # was born.", 1: "I'd rather not say where X was born.") every forget question is taught, the strangers' too; None: the
        # two alternated over the questions. With one, the phrasing follows from the question; alternated, it follows from the
        # question's place in the forget set, which the model cannot read, and it learnt blends of the two ("I'd rather not
        # say which employer this person lives."; development seed 102, Complete: contextual share 0.64 -> 0.77 / 0.88 with
        # phrasing 0 / 1; docs/asru_notebook.md, "One phrasing"). Not adopted (one_phrasing_second, phrasing_second_margin1 in
        # benchmarks/results/asru_defaults.md: contextual share 0.88 -> 0.97 on validation seed 100, but a paraphrased photo
        # question leaked in Personalized)
        refusal_phrasing: int | None = Field(None, ge=0)
        # erasure, not only refusal (issue 21): weight of an NPO term (Zhang et al. 2024, beta ``erase_beta``) on
        # the forget answers' likelihood, through the trainable layers: the fact itself is pushed down, so that
        # a prefilled answer, the answer ranking or a probe cannot read it behind the refusal; 0 (the
        # authors'): redirection only. The default 2 was adopted with the reference floor, then the unseen
        # floor replaced it (2026-12-05), each on validation seed 100 of the 40-person world by a rule declared
        # before its runs (benchmarks/results/asru_defaults.md)
        erase_weight: float = Field(2.0, ge=0)
        erase_beta: float = Field(0.1, gt=0)
        # the erasure stops, item by item, once the true answer is no likelier (mean NLL per token) than stand-ins
        # that a model which never saw the fact would find as likely (ERASE_FLOOR_VALUES of them). "unseen" (the
        # default): the true value asked about invented people, as the frozen model finds it (the oracle's view
        # of a forgotten person); "reference": other people's values of the fact in its place (drawn apart from
        # the wrong answers the evaluation ranks the truth against), as the frozen model finds them — far less
        # likely than the unseen one for a person the model knows, so the forget answers end up below a
        # never-seen person's; "model": those values as the model being trained finds them now (a no-grad pass
        # each step); None: no floor, NPO pushes on (PrivLeak +0.57 at erase_weight 0.5 and 2.0, Complete,
        # validation seed 100 of the 40-person world). Chosen on that seed: benchmarks/results/asru_defaults.md
        erase_floor: Literal["reference", "model", "unseen"] | None = "unseen"
        # nats a token past its floor that the erasure pushes each item (0: to the floor). On validation seed 100 the forget
        # answers of Selective and Personalized stopped with the truth still likelier than the wrong values the evaluation
        # ranks it against (median log truth ratio -0.33 / -1.09, the oracle's -0.07 / -0.05; docs/asru_notebook.md, "erasure margin").
        # Not adopted (erase_margin1 in benchmarks/results/asru_defaults.md: their closeness 0.688 / 0.682 -> 0.750 / 0.773, but
        # Personalized's random-prefix attack leaked one question)
        erase_floor_margin: float = 0.0
        # erasure at the answer's first token, under the refusal (None: none): for each forget item, the shares of the first
        # tokens of the fact's values in the world (an mcq's option letters; :func:`answer_class_tokens`) are matched to the
        # frozen model's on the same question about answer_share_people other people it keeps, with other answers (KL over
        # that class, renormalised: a model that never saw the person is confidently wrong about them, as the oracle and the
        # target are about the holdout people), and the class's summed probability is held at this much (|log of it - log m|:
        # the refusal keeps the rest), weighted like the erasure. The refusal alone leaves the forget answers far less likely than a
        # never-seen person's (development seed 102: the truth's first token at 15.0 nats against the holdout people's 8.7),
        # itself the tell PrivLeak reads; raising the class alone re-exposed the truth (leakage 0.60: under the refusal the
        # values' shares were still the target's), the truth's own cross-entropy relearnt it, and the invented people's shares
        # (nearly flat) overshot (4.2 nats) (docs/asru_notebook.md, "answer shares")
        erase_answer_mass: float | None = Field(None, gt=0, lt=1)
        # how many kept people's shares each forget item's ``erase_answer_mass`` target averages (drawn per item, each with an
        # answer other than the item's). With the term the truth ratios (truth against wrong values) sit close to 1 item after
        # item, a narrower spread than the oracle's (validation seed 100, answer_mass_0001: Complete's closeness 0.84 -> 0.74);
        # one person's shares (1) did not widen it on development seed 102 (closeness 0.76 against 0.78): the KL weighs each
        # value by the target's share and leaves the unlikely ones free (docs/asru_notebook.md, "Where the oracle's spread comes from")
        answer_share_people: int = Field(3, ge=1)
        # the ``erase_answer_mass`` target's values other than the truth: "kept_people" (their shares as the kept people's
        # questions give them) or "flat" (the truth keeps the kept people's share of it, the rest is spread evenly over
        # the other values). On the demo world the retrained oracle's shares are nearer flat ones (mean KL 0.91) than the
        # kept people's (2.08), while the kept people's share of the truth matches the oracle's (median 0.038 / 0.036);
        # the hybrid keeps both (KL 1.04; docs/asru_notebook.md, "an answer-share target"). Not adopted
        # (answer_mass_general2_flat in benchmarks/results/asru_defaults.md: Selective's closeness back to the default's
        # 0.688, but Personalized's 0.682 -> 0.591 and the mean score 0.887 -> 0.861)
        answer_share_rest: Literal["kept_people", "flat"] = "kept_people"
        # weight of the retain answers' cross-entropy (GradDiff's retain term): the retain MSE holds layer l
        # only, so layers above it that the refusal text or the erasure train (train_layers) drift freely
        # (the forgotten person's kept facts fell to 78 % with every layer training); 0 (the authors'): none
        retain_text_weight: float = Field(1.0, ge=0)
        # weight of the refusal's cross-entropy on the forget people's text questions asked about invented people
        # (STRANGERS names, found nowhere in the world; see the module docstring): the refusal stops being a tell
        # that singles the forgotten person out, and strangers get a refusal instead of a hallucination; 0: none.
        # Left at its default, a forget set with no such question (photo questions only) trains without the term;
        # given explicitly, it is an error there. 1: adopted 2026-12-05 by its declared rule (docs/asru_notebook.md, "strangers")
        stranger_refusal_weight: float = Field(1.0, ge=0)
        # where the redirection starts on a forget input (issue 21, erasure in the representation): "self" (the authors'):
        # the frozen model's own layer-l state, h + lambda * v, which keeps every fact that state holds, shifted (a linear
        # probe reads it back); "unseen": the frozen model's state on the same question about invented people
        # (unseen_people's stand-ins, their mean) + lambda * v: the person's state made a stranger's, as the oracle's is.
        # An item without stand-ins (a photo's who-is mcq) keeps "self". "unseen_every_layer": also every layer below l
        # matched to the strangers' states (no shift there), where a probe still read the fact with "unseen" alone
        redirect_from: Literal["self", "unseen", "unseen_every_layer"] = "self"
        # the share of stage 1's steps (the first ones) that train the activation terms: the forget rows' redirection
        # and the retain rows' MSE. In the rest only the text terms train (the refusal text, the erasure, the strangers,
        # the retain answers' cross-entropy): each activation term alone holds the per-fact refusal text at 0.4-1.4 nats a
        # token and the refusals lose their topic, while a text learnt first did not survive the terms switching on
        # (docs/asru_notebook.md, "The activation terms are the brake"). 1 (the authors'): the activation terms throughout.
        # 0.5 adopted 2026-12-06 with text_phase_general_image_weight 5 (text_last_general_image5 in
        # benchmarks/results/asru_defaults.md, by its rule written before its runs: validation seed 100, mean contextual share
        # 0.76 -> 0.88, mean score 0.854 -> 0.887, utility within 0.01); alone, at 0.5 or 0.75, it cost Complete's general image questions
        activation_share: float = Field(0.5, gt=0, le=1)
        # the retain answers' cross-entropy weight in the text-only steps after ``activation_share`` (None: retain_text_weight
        # throughout). Once the retain MSE is off, that cross-entropy is all that holds the general answers while the refusal
        # text trains at its full weight; on development seed 102 (Complete) text last at 0.5 cost the image questions about
        # shapes (utility 1.00 -> 0.95) and 5x the retain text there kept most of the gain (docs/asru_notebook.md, "Text last")
        text_phase_retain_text_weight: float | None = Field(None, ge=0)
        # weight of an MSE that holds, in the text-only steps after ``activation_share``, the layer-l states at the image
        # positions of the general retain rows (questions about no person: the shapes) to the frozen model's: with the
        # activation terms off, the refusal text moved how the layers below l read a plain picture (development seed 102,
        # Complete: two of the sixty shape questions answered wrong), and holding every retain row's states (the other
        # people's photos too) held the per-fact refusal back with them (docs/asru_notebook.md, "Text last"); 0: none. 5: adopted
        # 2026-12-06 with activation_share 0.5 (above)
        text_phase_general_image_weight: float = Field(5.0, ge=0)
        # weight of the answers' cross-entropy on GENERAL_ANSWER_ROWS general retain rows (the shape questions, no person)
        # drawn each step, throughout stage 1: the refusal learnt on a forget person's photos spreads to pictures that share
        # their look (a person with pink hair: the pink shapes refused, 4 of 8 after stage 1 with today's defaults and 8 of 8
        # with erase_answer_mass, development seed 102), and the retain batch holds about one general row a step against
        # the refusal text's weight 20 (docs/asru_notebook.md, "Look-alike pictures"); 0: none
        general_answer_weight: float = Field(0.0, ge=0)
        # the input-embedding rows of the tokens only a wholly forgotten person's name uses (none of the world's other
        # text): "keep" (the authors'), or "unlearnt": drawn afresh before training, as the model's own initialisation
        # draws a row (normal, initializer_range), the row a retrained oracle holds for a name it never saw -- the
        # name no longer carries the facts learnt with it (issue 21: a probe read them back through it). Output rows
        # are kept, so the refusal can still name the person once stage 1 has taught it. A person with kept facts
        # (Selective, Personalized) keeps their name. A real tokenizer shares most name pieces with other words: few
        # rows qualify. Not adopted on validation seed 100 (docs/asru_notebook.md, "unlearnt names"): closeness to the oracle fell
        forget_names: Literal["keep", "unlearnt"] = "keep"

        @model_validator(mode="before")
        @classmethod
        def _apply_preset(cls, values):
            if isinstance(values, dict) and values.get("preset") == "authors":
                return merge(cls.authors_values(), values)  # nested: a given rl.steps keeps the preset's rl lr
            return values

        @model_validator(mode="after")
        def _answer_mass_needs_the_erasure(self):
            if self.erase_answer_mass is not None and self.erase_weight <= 0:
                raise ValueError("erase_answer_mass is weighted by erase_weight, and erase_weight is 0: set erase_weight above 0 or leave erase_answer_mass out")
            return self

        @model_validator(mode="after")
        def _text_phase_needs_one(self):
            for name in ("text_phase_retain_text_weight", "text_phase_general_image_weight"):  # given, not a default
                if name in self.model_fields_set and getattr(self, name) and self.activation_share >= 1:
                    raise ValueError(f"{name} weighs the steps after activation_share, and activation_share is 1 (no such steps): set activation_share below 1 or leave {name} out")
            return self

        @classmethod
        def authors_values(cls) -> dict:
            """The authors' values for the fields of this Params (subclasses add stage 2's)."""
            return dict(ASRUStage1.AUTHORS)

    def __init__(self, params, reference=None):
        super().__init__(params, reference)
        self.num_layers = num_language_layers(reference)
        self.layer = params.layer if params.layer is not None else self.num_layers // 2
        self.uses_refusals = params.continuation_weight > 0 or params.refusal_text_weight > 0
        self.contextual_refusals = params.contextual_refusals
        self.refusal_phrasing = params.refusal_phrasing
        self.same_subject_retain = params.boundary_retain
        self.image_tokens = placeholder_token_ids(reference)  # the "image" loss positions (text_phase_general_image_weight)
        self.frozen_images: dict[int, tuple[Encoded, torch.Tensor]] = {}  # id(item) -> its frozen rows there, like ``frozen``

    @classmethod
    def learning_rate_for(cls, params) -> float:
        return cls.AUTHORS_LEARNING_RATE if params.preset == "authors" else cls.default_learning_rate

    @classmethod
    def train_forms_for(cls, params) -> list[str]:
        return ["qa"] if params.preset == "authors" else list(cls.default_train_forms)  # the authors train their qa items

    @classmethod
    def train_photos_for(cls, params) -> bool:
        return False if params.preset == "authors" else cls.default_train_photos  # the authors train each question's own photo

    def prepare(self, model, encoder, forget, retain, splits, world):
        self.general_rows = self.general_retain_rows(encoder, splits)  # first: a config error before the slow preparation
        self.general_draws = random.Random("general-answers")
        if self.params.forget_names == "unlearnt":  # before anything reads the trained model
            unlearn_name_rows(model, encoder.tokenizer, world, splits)
        directions, info = knowledge_absence_direction(self.reference, encoder, splits, [self.layer])
        self.direction = directions[self.layer]
        self.refused_prompts = info["refused"]
        self.encoder = encoder
        self.frozen: dict[int, tuple[Encoded, torch.Tensor]] = {}  # id(item) -> (item, its loss rows [positions, H])
        self.frozen_below: dict[int, tuple[Encoded, torch.Tensor]] = {}  # the same, layers 0..l-1 [positions, l, H] (unseen_every_layer)
        self.reference_logprobs: dict[int, tuple[Encoded, torch.Tensor]] = {}  # id(item) -> (item, its answer's summed log-prob)
        self.floors: dict[int, ErasureFloor] = {}  # id(item) -> its floor: see erase_floor
        if self.params.erase_weight > 0 and self.params.erase_floor is not None:
            from asru.eval.evaluate import fact_values

            stand_ins = unseen_people(world) if self.params.erase_floor == "unseen" else other_values(fact_values(world))
            self.floors = erase_floors(self.reference, encoder, forget, stand_ins)
        self.answer_targets: dict[int, tuple[Encoded, torch.Tensor, torch.Tensor]] = {}  # id(item) -> (item, class tokens, other people's shares)
        if self.params.erase_answer_mass is not None:
            self.answer_targets = other_people_answer_shares(self.reference, encoder, forget, world, splits, self.params.answer_share_people, self.params.answer_share_rest)
        self.strangers: list[Encoded] = []  # the forget people's questions about invented people, with the refusal as the answer
        if self.params.stranger_refusal_weight > 0:
            asked = splits.get("forget", []) + splits.get("retain_same_subject", [])
            # qa questions only: every trained form (cloze, mcq too; d7647a6) matched no more refusals to their topic on
            # the demo world (2026-12-06, docs/asru_notebook.md, "strangers")
            self.strangers = [encoder.encode(question, None, refusal) for question, refusal in stranger_refusals(world, asked, self.contextual_refusals, self.refusal_phrasing)]
            if not self.strangers and "stranger_refusal_weight" in self.params.model_fields_set:
                raise ConfigError(
                    "method_args.stranger_refusal_weight: the forget people have no text question that names them, so there is nothing "
                    "to ask about a stranger; set it to 0 to train without the strangers term"
                )
            elif not self.strangers:  # left at its default: the term has nothing to train on
                warnings.warn("stage 1 trains without its strangers term: no text question of the forget set names its person", stacklevel=2)
        self.stranger_draws = random.Random("stranger-refusals")
        self.redirect_bases: dict[int, tuple[Encoded, list[Encoded]]] = {}  # id(item) -> (item, its stand-ins): see redirect_from
        if self.params.redirect_from != "self":
            self.redirect_bases = unseen_bases(world, encoder, forget)

    def drawn_rows_nll(self, model, rows: list[Encoded], draws: random.Random, count: int, device) -> torch.Tensor:
        """The mean answer NLL of ``count`` rows drawn from ``rows`` (the strangers' and the general answers' terms)."""
        drawn = draws.sample(rows, min(count, len(rows)))
        return forward_nll(model, {k: v.to(device) for k, v in self.encoder.collate(drawn).items()})[0].mean()

    def general_retain_rows(self, encoder, splits) -> list[Encoded]:
        """``general_answer_weight``'s rows: the general retain questions with their answers (none when the weight is 0)."""
        if self.params.general_answer_weight <= 0:
            return []
        rows = [encoder.encode_sample(sample) for sample in splits.get("retain_general", [])]
        if not rows:
            raise ConfigError("method_args.general_answer_weight: the setting has no general retain question (retain_general) to hold; set it to 0")
        return rows

    def frozen_rows(self, items: list[Encoded], device, positions: str | None = None) -> torch.Tensor:
        """The frozen model's layer-l output at the loss positions of ``items`` [N, H], item after item.

        Each item is computed once and kept (its loss positions x H): the reference never
        changes, and running it every step was ~30 % of a step while each forget item is drawn
        ~50-500 times in a run (the trainer hands the same item object each time).
        """
        return self._kept_rows(self.frozen, items, device, lambda batch: layer_output(self.reference, batch, self.layer), positions or self.params.positions)

    def frozen_rows_below(self, items: list[Encoded], device) -> torch.Tensor:
        """:meth:`frozen_rows` for the layers below l, stacked [N, l, H] (``hidden_states[i + 1]`` is layer i's output below the last layer)."""
        def states(batch):
            return below_states(self.reference(**{k: v for k, v in batch.items() if k != "labels"}, output_hidden_states=True), self.layer)

        return self._kept_rows(self.frozen_below, items, device, states, self.params.positions)

    def _kept_rows(self, kept: dict, items: list[Encoded], device, states: Callable, positions: str) -> torch.Tensor:
        """``states(batch)``'s rows at the loss positions of ``items``, the reference's: run once per item (the missing ones in one batch) and kept in ``kept``."""
        missing = list({id(item): item for item in items if id(item) not in kept}.values())
        if missing:
            batch = {k: v.to(device) for k, v in self.encoder.collate(missing).items()}
            with torch.no_grad():
                hidden = states(batch)
            mask = loss_mask(batch, positions, self.image_tokens).bool()
            for row, item in enumerate(missing):
                kept[id(item)] = (item, hidden[row][mask[row]])
        return torch.cat([kept[id(item)][1] for item in items])

    def redirect_rows(self, items: list[Encoded], device, below: bool = False) -> torch.Tensor:
        """The forget items' layer-l rows the shift lambda * v is added to [N, H]: their own frozen rows, or (``redirect_from``
        unseen) the mean of their stand-ins' frozen rows — the same loss positions (the last prompt token and the same
        answer's tokens), so the counts match; where they do not, the item's own. ``below``: the same for layers 0..l-1 [N, l, H]."""
        frozen_rows, cache = (self.frozen_rows_below, self.frozen_below) if below else (self.frozen_rows, self.frozen)
        if not self.redirect_bases:
            return frozen_rows(items, device)
        bases = [self.redirect_bases.get(id(item), (item, []))[1] for item in items]
        frozen_rows(list(items) + [s for stand_ins in bases for s in stand_ins], device)  # the missing ones in a few batches
        parts = []
        for item, stand_ins in zip(items, bases):
            own = cache[id(item)][1]
            rows = [cache[id(s)][1] for s in stand_ins]
            parts.append(torch.stack(rows).mean(0) if rows and all(r.shape == own.shape for r in rows) else own)
        return torch.cat(parts)

    def frozen_logprobs(self, items: list[Encoded], inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The reference's summed answer log-probability of each of ``items`` [B] (``inputs``: their batch), kept per item like :meth:`frozen_rows`."""
        if any(id(item) not in self.reference_logprobs for item in items):
            with torch.no_grad():
                _, output = self.reference_output(inputs)
            for item, value in zip(items, sequence_logprob(output.logits, inputs["labels"])):
                self.reference_logprobs[id(item)] = (item, value)
        return torch.stack([self.reference_logprobs[id(item)][1] for item in items])

    def above_floor(self, model, items: list[Encoded], nll: torch.Tensor) -> torch.Tensor:
        """Which of ``items`` the erasure still pushes [B] bool: those likelier than their floor (``nll``: their mean NLL now);
        an item without a floor (no stand-in: an mcq, a fact with no value to spare) always."""
        floors: list[float | None] = [None] * len(items)
        found = [(row, self.floors[id(item)]) for row, item in enumerate(items) if id(item) in self.floors]
        if self.params.erase_floor in ("reference", "unseen"):
            for row, floor in found:
                floors[row] = floor.reference_nll
        elif found:
            from accelerate.utils import extract_model_from_parallel

            stand_ins = [encoded for _, floor in found for encoded in floor.stand_ins]
            batch = {k: v.to(nll.device) for k, v in self.encoder.collate(stand_ins).items()}
            with torch.no_grad():  # the bare model: a DDP wrapper arms its gradient sync on every forward
                values = iter(forward_nll(extract_model_from_parallel(model), batch)[0].tolist())
            for row, floor in found:
                floors[row] = sum(next(values) for _ in floor.stand_ins) / len(floor.stand_ins)
        margin = self.params.erase_floor_margin
        return torch.tensor([floor is None or value < floor + margin for floor, value in zip(floors, nll.tolist())], device=nll.device)

    def answer_mass_loss(self, logits: torch.Tensor, batch: UnlearnBatch) -> tuple[torch.Tensor, dict]:
        """``erase_answer_mass``'s term over the forget rows with a target, as a share of the batch: at the first answer token,
        KL(the other people's shares || the model's, over the answer class) + |log of the class's probability - log m|."""
        rows = [row for row, item in enumerate(batch.forget_items) if id(item) in self.answer_targets]
        if not rows:
            return torch.zeros((), device=logits.device), {}
        first = first_answer_logprobs(logits, batch.forget["labels"])
        shares, masses = [], []
        for row in rows:
            _, tokens, target = self.answer_targets[id(batch.forget_items[row])]
            tokens, target = tokens.to(logits.device), target.to(logits.device)
            class_logprobs = first[row, tokens]
            mass = class_logprobs.logsumexp(0)
            shares.append(F.kl_div(class_logprobs - mass, target, reduction="sum"))
            masses.append(mass)
        kl, mass = torch.stack(shares), torch.stack(masses)
        off = (mass - math.log(self.params.erase_answer_mass)).abs()
        share = len(rows) / len(batch.forget_items)
        return (kl + off).mean() * share, {"answer_share_kl": kl.mean().item(), "answer_mass": mass.exp().mean().item()}

    def trainable(self, name: str) -> bool:
        layers = self.params.train_layers
        if layers == "all":
            layers = range(self.num_layers)
        elif layers is None:
            # the authors train layer l only; asru every layer up to it
            layers = [self.layer] if self.params.preset == "authors" else range(self.layer + 1)
        return any(f"layers.{layer}.{module}." in f"{name}." for layer in layers for module in self.params.modules)

    def retain_text_weight_at(self, progress: float) -> float:
        """The retain answers' cross-entropy weight at ``progress`` (step / steps): ``text_phase_retain_text_weight`` in the
        text-only steps once the activation terms are off, if given, else ``retain_text_weight``."""
        p = self.params
        if progress >= p.activation_share and p.text_phase_retain_text_weight is not None:
            return p.text_phase_retain_text_weight
        return p.retain_text_weight

    def loss(self, model, batch: UnlearnBatch):
        p = self.params
        device = batch.forget["input_ids"].device

        def states(inputs, whole_forward: bool = False, **forward_kwargs):
            """The trained model's layer-l output [B, T, H], and the whole forward's output when a text loss needs it
            too (one pass instead of two)."""
            if whole_forward:
                return forward_with_layer_output(model, inputs, self.layer, **forward_kwargs)
            return layer_output(model, inputs, self.layer), None

        erasing = p.erase_weight > 0
        below = p.redirect_from == "unseen_every_layer" and self.layer > 0
        forget_mask = loss_mask(batch.forget, p.positions).bool()
        forget_hidden, forget_output = states(batch.forget, whole_forward=erasing or below, **({"output_hidden_states": True} if below else {}))
        forget_rows = forget_hidden[forget_mask]
        target = self.redirect_rows(batch.forget_items, device) + p.scale * self.direction.to(device)
        forget_loss = F.mse_loss(forget_rows.float(), target.float())
        logs = {}
        if below:  # every layer below l made a stranger's too, unshifted
            trained_below = below_states(forget_output, self.layer)[forget_mask]
            below_loss = F.mse_loss(trained_below.float(), self.redirect_rows(batch.forget_items, device, below=True).float())
            forget_loss = forget_loss + below_loss
            logs["below_mse"] = below_loss.item()
        retain_loss = torch.zeros((), device=device)
        retain_output = None
        retain_text_weight = self.retain_text_weight_at(batch.progress)
        if batch.retain_items:
            retain_hidden, retain_output = states(batch.retain, whole_forward=retain_text_weight > 0)
            retain_rows = retain_hidden[loss_mask(batch.retain, p.positions).bool()]
            retain_loss = F.mse_loss(retain_rows.float(), self.frozen_rows(batch.retain_items, device).float())
        activation_terms = forget_loss + p.retain_weight * retain_loss
        text_only = batch.progress >= p.activation_share
        loss = torch.zeros((), device=device) if text_only else activation_terms
        if text_only and p.text_phase_general_image_weight > 0 and batch.retain_items:
            general = torch.tensor([not subject for subject in batch.retain_subjects], device=device)
            held = loss_mask(batch.retain, "image", self.image_tokens).bool() & general[:, None]
            if held.any():
                general_items = [item for item, subject in zip(batch.retain_items, batch.retain_subjects) if not subject]
                frozen = self._kept_rows(self.frozen_images, general_items, device, lambda inputs: layer_output(self.reference, inputs, self.layer), "image")
                image_loss = F.mse_loss(retain_hidden[held].float(), frozen.float())
                loss = loss + p.text_phase_general_image_weight * image_loss
                logs["general_image_mse"] = image_loss.item()
        logs.update(forget_mse=forget_loss.item(), retain_mse=retain_loss.item())
        if p.continuation_weight > 0 and batch.forget_refusal_items:
            # the refusal's own tokens (not the last prompt token, which the forget loss redirects)
            refusal = batch.forget_refusal
            anchored = layer_output(model, refusal, self.layer)[loss_mask(refusal, "answer").bool()]
            anchor_loss = F.mse_loss(anchored.float(), self.frozen_rows(batch.forget_refusal_items, device, "answer").float())
            loss = loss + p.continuation_weight * anchor_loss
            logs["anchor_mse"] = anchor_loss.item()
        if p.refusal_text_weight > 0 and batch.forget_refusal_items:
            refusal_loss = forward_nll(model, batch.forget_refusal)[0].mean()  # IdK's loss on ASRU's refusal text
            loss = loss + p.refusal_text_weight * refusal_loss
            logs["refusal_nll"] = refusal_loss.item()
        if erasing:
            logprobs = sequence_logprob(forget_output.logits, batch.forget["labels"])
            mean_nll = -logprobs.detach() / answer_lengths(batch.forget["labels"]).clamp(min=1)  # answer_nll, without a second log-softmax
            active = self.above_floor(model, batch.forget_items, mean_nll)
            erase_loss = torch.zeros((), device=device)
            if active.any():  # NPO over the items still above their floor, as a share of the batch
                reference = self.frozen_logprobs(batch.forget_items, batch.forget)
                erase_loss = npo(logprobs[active], reference[active], p.erase_beta) * active.float().mean()
            logs["erase_active"] = active.float().mean().item()
            loss = loss + p.erase_weight * erase_loss
            logs["erase_npo"] = erase_loss.item()
            if p.erase_answer_mass is not None:
                answer_loss, answer_logs = self.answer_mass_loss(forget_output.logits, batch)
                loss = loss + p.erase_weight * answer_loss
                logs.update(answer_logs)
        if p.stranger_refusal_weight > 0 and self.strangers:
            stranger_loss = self.drawn_rows_nll(model, self.strangers, self.stranger_draws, len(batch.forget_items), device)
            loss = loss + p.stranger_refusal_weight * stranger_loss
            logs["stranger_nll"] = stranger_loss.item()
        if p.general_answer_weight > 0:
            general_loss = self.drawn_rows_nll(model, self.general_rows, self.general_draws, GENERAL_ANSWER_ROWS, device)
            loss = loss + p.general_answer_weight * general_loss
            logs["general_nll"] = general_loss.item()
        if retain_output is not None:
            retain_nll = answer_nll(retain_output.logits, batch.retain["labels"]).mean()
            loss = loss + retain_text_weight * retain_nll
            logs["retain_nll"] = retain_nll.item()
        return loss, logs


def first_answer_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The log-softmax at the position that predicts each row's first answer token [B, V] (a row without one: its last)."""
    answer = labels[:, 1:] != IGNORE_INDEX  # position t predicts token t + 1
    position = torch.where(answer.any(-1), answer.float().argmax(-1), torch.full_like(answer[:, 0], answer.shape[1] - 1, dtype=torch.long))
    return logits[torch.arange(len(logits), device=logits.device), position].float().log_softmax(-1)


GENERAL_ANSWER_ROWS = 4  # general retain rows a step of ``general_answer_weight``


def other_people_answer_shares(
    reference, encoder, forget, world, splits, people: int = 3, rest: Literal["kept_people", "flat"] = "kept_people", batch_size: int = 32,
) -> dict[int, tuple[Encoded, torch.Tensor, torch.Tensor]]:
    """Per forget item (``forget``: LazyEncodings) with an answer class of two tokens or more and other people to ask: (the
    item, kept so that its id stays its own as in ``frozen``; its class tokens [K]; the frozen model's shares of them at the first answer token on the same fact and form asked about
    ``people`` people of ``splits["retain_other"]`` whose answer differs (text questions, drawn per item),
    renormalised over the class and averaged [K]; ``rest`` "flat": the truth's share as that, the other values' spread
    evenly). Keyed like ``frozen``."""
    from asru.eval.evaluate import fact_values

    values = fact_values(world)
    kept = {s.subject_id for s in splits.get("retain_other", [])}
    asked: dict[tuple, list] = {}  # (fact, form) -> the kept people's text questions of it
    for sample in world.samples:
        if sample.subject_id in kept and sample.modality == "text":
            asked.setdefault((sample.fact, sample.form), []).append(sample)
    wanted: dict[int, tuple[Encoded, torch.Tensor, list[tuple], int]] = {}  # item key -> (item, class tokens, its (other person's id, tokens) pairs, the truth's place in the class)
    distinct: dict[tuple, Sample] = {}  # each (question, class) scored once: an item's photo copies share theirs
    for index, sample in enumerate(forget.samples):
        others = [o for o in asked.get((sample.fact, sample.form), []) if o.answer != sample.answer]
        if others and len(tokens := answer_class_tokens(encoder.tokenizer, sample, values)) > 1:
            drawn = random.Random(f"answer-shares:{sample.id}").sample(others, min(people, len(others)))
            pairs = [(other.id, tuple(tokens)) for other in drawn]
            distinct.update(zip(pairs, drawn))
            truth = encoder.tokenizer(sample.answer, add_special_tokens=False)["input_ids"][:1]
            wanted[id(forget[index])] = (forget[index], torch.tensor(tokens), pairs, tokens.index(truth[0]))
    device = next(reference.parameters()).device
    shares: dict[tuple, torch.Tensor] = {}
    jobs = list(distinct)
    with torch.no_grad():
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            batch = {k: v.to(device) for k, v in encoder.collate([encoder.encode_sample(distinct[pair]) for pair in chunk]).items()}
            first = first_answer_logprobs(forward_nll(reference, batch)[1].logits, batch["labels"]).cpu()
            for row, pair in enumerate(chunk):
                shares[pair] = first[row, list(pair[1])].softmax(0)
    targets = {}
    for key, (item, tokens, pairs, truth) in wanted.items():
        target = torch.stack([shares[pair] for pair in pairs]).mean(0)
        if rest == "flat":
            kept_truth = target[truth]
            target = torch.full_like(target, float((1 - kept_truth) / (len(target) - 1)))
            target[truth] = kept_truth
        targets[key] = (item, tokens, target)
    return targets


def answer_class_tokens(tokenizer, sample, values: dict[str, list[str]]) -> list[int]:
    """The first tokens of every answer a model that never saw the fact could give to ``sample``'s question: the fact's
    values in the world (``values``: :func:`asru.eval.evaluate.fact_values`), an mcq's option letters, the truth's among them."""
    candidates = [chr(ord("A") + i) for i in range(len(sample.options))] if sample.form == "mcq" else values.get(sample.fact, [])
    first = (tokenizer(text, add_special_tokens=False)["input_ids"][:1] for text in dict.fromkeys([*candidates, sample.answer]))
    return sorted({ids[0] for ids in first if ids})


def below_states(output, layer: int) -> torch.Tensor:
    """Layers 0..``layer``-1's outputs [B, T, layer, H] from a forward with ``output_hidden_states`` (entry 0 is the embeddings)."""
    return torch.stack(output.hidden_states[1 : layer + 1], dim=2)


ERASE_FLOOR_VALUES = 3  # other values per forget item whose likelihood sets its erasure floor


@dataclass
class ErasureFloor:
    """One forget item's floor: its stand-in prompts (encoded with their answers) and the frozen model's mean NLL of them."""

    item: Encoded  # kept so that id(item) stays this item's while the floor is held
    stand_ins: list[Encoded]
    reference_nll: float


def erase_floors(reference, encoder, forget, stand_ins: Callable, batch_size: int = 32) -> dict[int, ErasureFloor]:
    """Per forget item (``forget``: LazyEncodings of the forget samples), its stand-ins (``stand_ins(sample)``:
    (question, image, answer) triples, :func:`other_values` or :func:`unseen_people`) encoded, and the
    reference's mean answer NLL of them. An item without stand-ins has no floor. Keyed like ``frozen``.
    Each distinct triple is encoded and scored once: a question's photo copies, and a photo question and its
    person's text question, share their unseen stand-ins."""
    triples = {index: found for index, sample in enumerate(forget.samples) if (found := stand_ins(sample))}
    encoded = {triple: encoder.encode(*triple) for triple in dict.fromkeys(t for found in triples.values() for t in found)}
    nll: dict[tuple, float] = {}
    device = next(reference.parameters()).device
    jobs = list(encoded)
    with torch.no_grad():
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            batch = {k: v.to(device) for k, v in encoder.collate([encoded[triple] for triple in chunk]).items()}
            nll.update(zip(chunk, forward_nll(reference, batch)[0].tolist()))
    return {
        id(forget[index]): ErasureFloor(forget[index], [encoded[t] for t in found], sum(nll[t] for t in found) / len(found))
        for index, found in triples.items()
    }


def other_values(values: dict[str, list[str]]) -> Callable:
    """Stand-ins: the question with ERASE_FLOOR_VALUES other values of its fact as the answer (a fact never learned,
    phrased alike). ``values``: the world's values of each fact (:func:`asru.eval.evaluate.fact_values`). Never one
    of the wrong answers :func:`asru.eval.forget_quality.wrong_answers` ranks the truth against in evaluation, so
    that training does not see the comparisons its forget quality is measured on; none for an mcq."""
    from asru.eval.forget_quality import wrong_answers
    from asru.eval.metrics import normalize

    def stand_ins(sample) -> list[tuple]:
        pool = values.get(sample.fact, [])
        if sample.form == "mcq" or sample.answer not in pool:
            return []
        evaluated = {normalize(v) for v in wrong_answers(sample, values)} | {normalize(sample.answer)}
        candidates = [v for v in pool if normalize(v) not in evaluated]
        drawn = random.Random(f"erase-floor:{sample.id}").sample(candidates, min(ERASE_FLOOR_VALUES, len(candidates)))
        return [(sample.question, sample.image, value) for value in drawn]

    return stand_ins


def wholly_forgotten_names(splits) -> set[str]:
    """The forget people with nothing kept (no retain_same_subject question): their names may go with their facts."""
    kept = {s.subject_id for s in splits.get("retain_same_subject", [])}
    return {s.subject_name for s in splits.get("forget", []) if s.subject_name and s.subject_id not in kept}


def name_token_ids(tokenizer, names) -> set[int]:
    """The token ids of ``names``, each alone and after a space: both tokenisations occur in questions."""
    return {i for name in names for text in (name, " " + name) for i in tokenizer(text, add_special_tokens=False)["input_ids"]}


def unlearn_name_rows(model, tokenizer, world, splits) -> list[int]:
    """``forget_names: unlearnt``: redraw the input-embedding rows of the tokens only the wholly forgotten names use --
    in no other question, answer or name of ``world`` once those names are taken out -- as the model's initialisation
    draws a row (normal, std ``initializer_range``; seeded by the names); returns the token ids redrawn."""
    names = sorted(wholly_forgotten_names(splits))
    if not names:
        return []

    elsewhere: set[int] = set()
    for sample in world.samples:
        text = f"{sample.question} {sample.answer}"
        for name in names:
            text = text.replace(name, " ")
        elsewhere.update(tokenizer(text, add_special_tokens=False)["input_ids"])
    rows = sorted(name_token_ids(tokenizer, names) - elsewhere)
    if rows:
        embeddings = model.get_input_embeddings().weight
        std = getattr(model.config.get_text_config(), "initializer_range", 0.02)
        generator = torch.Generator().manual_seed(int(hashlib.sha256("|".join(names).encode()).hexdigest()[:15], 16))
        with torch.no_grad():
            embeddings[rows] = (torch.randn(len(rows), embeddings.shape[1], generator=generator) * std).to(embeddings)
    return rows


STRANGERS = 16  # invented people whose questions ``stranger_refusal_weight`` teaches the refusal on


def invented_people(world, count: int) -> list[str]:
    """``count`` invented names found nowhere in the world (not its subjects, holdout or unknown people, nor any value), the same for the same world."""
    from asru.world.generate import invent_names

    taken = {s.subject_name for s in world.samples if s.subject_name} | {s.answer for s in world.samples}
    return invent_names(random.Random(f"erase-floor-names:{world.manifest.get('content_hash')}"), count, taken)


def stranger_refusals(world, samples, contextual: bool, phrasing: int | None = None) -> list[tuple[str, str]]:
    """(question, refusal) pairs: every text qa question of ``samples`` that names its person, asked about each of
    :data:`STRANGERS` invented people (:func:`invented_people`), with the refusal the forget questions are taught
    (:func:`asru.world.phrases.forget_refusal`; ``phrasing``: always that phrasing, else alternated) naming the stranger."""
    from asru.world.phrases import forget_refusal

    names = invented_people(world, STRANGERS)
    asked = [s for s in samples if s.modality == "text" and s.form == "qa" and s.subject_name and s.subject_name in s.question]
    return [
        (s.question.replace(s.subject_name, name), forget_refusal(s.fact, name, False, index, contextual, phrasing))
        for index, (s, name) in enumerate((s, name) for s in asked for name in names)
    ]


def unseen_bases(world, encoder, forget) -> dict[int, tuple[Encoded, list[Encoded]]]:
    """``redirect_from`` unseen: per forget item (``forget``: LazyEncodings), keyed like ``frozen``, the item and its
    :func:`unseen_people` stand-ins encoded (the same question and answer about invented people); none without stand-ins."""
    stand_ins = unseen_people(world)
    found = {index: stand_ins(sample) for index, sample in enumerate(forget.samples)}
    return {id(forget[i]): (forget[i], [encoder.encode(q, image, a) for q, image, a in triples]) for i, triples in found.items() if triples}


def unseen_people(world) -> Callable:
    """Stand-ins: the true answer to the same question about ERASE_FLOOR_VALUES invented people, names found
    nowhere in the world (not its subjects, holdout or unknown people, nor any value): how likely the model
    finds the value for somebody it never saw, as the retrained oracle sees the forgotten person. A photo
    question takes the person's text question of the same fact and form; a text mcq is the same prompt,
    options and all, about the invented people (without one, an mcq trained with ``train_forms`` was erased
    with no floor at all: Selective closeness 0.625 -> 0.188 on the validation seed); none for a question
    without the person's name (a photo's who-is mcq)."""
    names = invented_people(world, ERASE_FLOOR_VALUES)
    text_questions = {(s.subject_id, s.fact, s.form): s.question for s in world.samples if s.modality == "text" and s.kind in ("fact", "identity")}

    def stand_ins(sample) -> list[tuple]:
        question = sample.question if sample.modality == "text" else text_questions.get((sample.subject_id, sample.fact, sample.form))
        if not question or not sample.subject_name or sample.subject_name not in question:
            return []
        return [(question.replace(sample.subject_name, name), None, sample.answer) for name in names]

    return stand_ins
