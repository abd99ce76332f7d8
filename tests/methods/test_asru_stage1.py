"""Where stage 1 takes its activation loss: masks respected, padding never counted."""

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
