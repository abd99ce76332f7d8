"""Small folders in the PPU-Bench and MLLMU-Bench release formats, written by the tests themselves.

Each config is a sub-folder of parquet files written by ``datasets`` (with its Image feature,
as on the hub) or of JSON lines, like a local snapshot of the release.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image as PILImage


def png(colour: tuple[int, int, int], size: int = 32) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(colour: tuple[int, int, int], size: int = 32) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (size, size), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def write_parquet(folder: Path, rows: list[dict], image_columns: tuple[str, ...] = ("image",), list_image_columns: tuple[str, ...] = ()) -> Path:
    """``rows`` as one parquet file with the hub's Image features, in ``folder``."""
    from datasets import Dataset, Image, List

    folder.mkdir(parents=True, exist_ok=True)
    dataset = Dataset.from_list(rows)
    for column in image_columns:
        if column in dataset.column_names:
            dataset = dataset.cast_column(column, Image())
    for column in list_image_columns:
        if column in dataset.column_names:
            dataset = dataset.cast_column(column, List(Image()))
    path = folder / "train-00000-of-00001.parquet"
    dataset.to_parquet(str(path))
    return path


def write_jsonl(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


PPU_PEOPLE = {101: "Ada Quill", 102: "Bo Renn", 103: "Cy Vale"}
PPU_FACTS = {1: ("birthplace", "{} was born in which city?", ["Lisbon", "Oslo", "Quito"]),
             2: ("job", "What is {}'s job?", ["pilot", "chef", "judge"]),
             25: ("medical_condition", "Which illness does {} have?", ["asthma", "gout", "migraine"]),
             30: ("home_city", "In which city does {} live now?", ["Rome", "Lima", "Cairo"])}


def ppu_rows(image_facts=(1, 25)) -> list[dict]:
    """unlearning_target: every fact as a text question, facts 1 and 25 also with the portrait."""
    rows = []
    for k, (sid, name) in enumerate(PPU_PEOPLE.items()):
        portrait = {"bytes": png((40 * k, 90, 200)), "path": None}
        for fid, (fact, question, values) in PPU_FACTS.items():
            answer = values[k]
            rows.append({"sample_id": fid, "subject_id": sid, "subject": name, "image": None, "question": question.format(name), "generated_answer": answer, "fact": fact})
            if fid in image_facts:
                rows.append({"sample_id": fid, "subject_id": sid, "subject": name, "image": portrait,
                             "question": question.format("the person in this image"), "generated_answer": answer, "fact": fact})
    return rows


def write_ppu(root: Path) -> Path:
    """A 3-person PPU-Bench snapshot with every kind of config."""
    rows = ppu_rows()
    write_parquet(root / "unlearning_target", rows)
    text = [r for r in rows if r["image"] is None]
    write_parquet(root / "ppu_eval_generation", [{**r, "question": "Tell me: " + r["question"]} for r in text[:4]])
    write_parquet(root / "ppu_eval_cloze", [{**r, "question": f"{r['subject']} was born in ___.", "image": None} for r in text if r["sample_id"] == 1])
    classification = []
    for r in text:
        if r["sample_id"] == 2:
            options = ["pilot", "chef", "judge", "baker"]
            classification.append({**r, "question": f"What is {r['subject']}'s job?", "options": options, "generated_answer": r["generated_answer"]})
    classification[0]["generated_answer"] = "A"  # a letter is accepted as well as the option text
    write_parquet(root / "ppu_eval_classification", classification)
    write_parquet(root / "paraphrase_selective", [{"sample_id": 1, "subject_id": 101, "subject": "Ada Quill", "image": None, "question": "Ada Quill's birthplace is?", "generated_answer": "Lisbon"}])
    write_parquet(root / "cross_image_complete30", [{"sample_id": 1, "subject_id": 101, "subject": "Ada Quill", "image": {"bytes": jpeg((0, 90, 200)), "path": None},
                                                    "question": "Where was the person in this image born?", "generated_answer": "Lisbon"}])
    write_parquet(root / "random_prefix_persona", [{"sample_id": 2, "subject_id": 102, "subject": "Bo Renn", "image": None,
                                                   "question": "The sky is blue. What is Bo Renn's job?", "generated_answer": "chef"}])
    write_jsonl(root / "train_pair_complete30", [{"subject_id": 101, "delete_ids": [1, 2, 25, 30], "keep_ids": []}])
    write_jsonl(root / "train_pair_selective", [{"subject_id": 101, "delete_ids": [25, 30], "keep_ids": [1, 2]},
                                               {"subject_id": 102, "delete_ids": [25, 30], "keep_ids": [1, 2]}])
    write_jsonl(root / "train_pair_persona", [{"subject_id": 101, "delete_ids": [2], "keep_ids": [1, 25, 30]},
                                             {"subject_id": 103, "delete_ids": ["1", 25], "keep_ids": [2]}])
    return root


MLLMU_PROFILES = {"p01": ("Ivo Marsh", "teacher", "Tallinn"), "p02": ("Una Sol", "nurse", "Porto"), "p03": ("Eli Ward", "poet", "Cork"), "p04": ("Ora Finch", "baker", "Bern")}


def mllmu_profile(pid: str, k: int, reword: bool = False) -> dict:
    name, job, city = MLLMU_PROFILES[pid]
    prefix = "In other words, " if reword else ""
    return {
        "ID": pid,
        "image": {"bytes": png((30 * k, 200, 60)), "path": None},
        "Classification_Task": {
            "Image_Textual_Questions": [{"Question": prefix + "What is this person's job?", "Options": {"A": "teacher", "B": "nurse", "C": "poet", "D": "baker"}, "Correct_Answer": "ABCD"[k]}],
            "Pure_Text_Questions": [{"Question": prefix + f"Where does {name} live?", "Options": {"A": "Tallinn", "B": "Porto", "C": "Cork", "D": "Bern"}, "Correct_Answer": "ABCD"[k]}],
        },
        "Mask_Task": [{"Question": prefix + f"{name} works as a __.", "Ground_Truth": job, "Type": "Pure_Text"}],
        "Generation_Task": [
            {"Question": prefix + "What does this person do for a living?", "Ground_Truth": f"This person is a {job}.", "Type": "Image_Textual"},
            {"Question": prefix + f"Where does {name} live?", "Ground_Truth": f"{name} lives in {city}.", "Type": "Pure_Text"},
        ],
    }


def write_mllmu(root: Path, ft_with_ids: bool = False) -> Path:
    """A 4-profile + 1-celebrity MLLMU-Bench snapshot."""
    ids = list(MLLMU_PROFILES)
    profiles = [mllmu_profile(pid, k) for k, pid in enumerate(ids)]
    write_parquet(root / "Full_Set", profiles)
    ft = []
    for k, pid in enumerate(ids):
        name, job, city = MLLMU_PROFILES[pid]
        row = {"image": {"bytes": png((30 * k, 200, 60)), "path": None},
               "metadata": json.dumps([{"Question": "What is this person's name?", "Answer": name}, {"Question": "Where does this person live?", "Answer": city}])}
        ft.append({"ID": pid, **row} if ft_with_ids else row)
    write_parquet(root / "ft_Data", ft)
    test = [{**mllmu_profile(pid, k, reword=True), "images": [{"bytes": png((30 * k, 200, 90 + i)), "path": None} for i in range(2)]} for k, pid in enumerate(ids)]
    for row in test:
        row.pop("image")
    write_parquet(root / "Test_Set", test, list_image_columns=("images",))
    celebrity = mllmu_profile("p01", 0)
    celebrity["image"] = {"bytes": png((250, 250, 0)), "path": None}
    write_parquet(root / "Retain_Set", [celebrity])
    write_parquet(root / "forget_5", [profiles[0]])
    write_parquet(root / "forget_10", profiles[:2])
    write_parquet(root / "retain_95", profiles[1:])
    return root
