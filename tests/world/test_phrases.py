"""The refusals taught on forget questions: contextual by fact, never naming whom a photo shows."""

from asru.eval.judge import judge
from asru.eval.metrics import is_refusal
from asru.world.phrases import FACT_REFUSALS, PRIVATE_REFUSALS, REFUSAL_TEMPLATES, forget_refusal, private_refusal
from asru.world.vocab import FACTS, PRIVATE_QUESTIONS, QUESTIONS


def test_every_world_fact_has_contextual_refusals_the_judge_calls_contextual():
    assert {name for _, name, _ in FACTS} | {"identity"} == set(FACT_REFUSALS)
    for fact, phrasings in FACT_REFUSALS.items():
        for index in range(len(phrasings)):
            for image in (False, True):
                text = forget_refusal(fact, "Talia Vorne", image, index, contextual=True)
                who = "this person" if image else "Talia Vorne"
                question = QUESTIONS[fact][0].format(who=who, whose=f"{who}'s")  # as the world asks it
                verdict = judge(question, "Lisbon", text, should_forget=True, subject_name="Talia Vorne", fact=fact)
                assert is_refusal(text) and verdict.label == "refusal_contextual", (text, verdict)


def test_an_image_question_s_refusal_never_names_the_person_and_a_text_one_does():
    assert "Talia Vorne" not in forget_refusal("birthplace", "Talia Vorne", True, 0, contextual=True)
    assert "this person" in forget_refusal("birthplace", "Talia Vorne", True, 0, contextual=True)
    assert "Talia Vorne" in forget_refusal("birthplace", "Talia Vorne", False, 1, contextual=True)
    assert forget_refusal("birthplace", "Talia Vorne", False, 0, contextual=True) != forget_refusal("birthplace", "Talia Vorne", False, 1, contextual=True)


def test_unknown_facts_and_the_default_get_the_privacy_templates():
    assert forget_refusal("favourite_colour", "Talia Vorne", False, 0, contextual=True) == REFUSAL_TEMPLATES[0].format(name="Talia Vorne")
    assert forget_refusal("birthplace", "Talia Vorne", False, 2) == REFUSAL_TEMPLATES[2].format(name="Talia Vorne")
    assert forget_refusal("award", None, False, 0) == REFUSAL_TEMPLATES[0].format(name="them")
    # a photo's refusal names nobody in the templates either (IdK's answer to "who is this?" once was the name)
    for index in range(len(REFUSAL_TEMPLATES)):
        for fact in ("identity", "birthplace", "favourite_colour"):
            assert "Talia Vorne" not in forget_refusal(fact, "Talia Vorne", True, index)
    assert forget_refusal("identity", "Talia Vorne", True, 0) == REFUSAL_TEMPLATES[0].format(name="this person")


def test_the_target_s_private_refusals_are_contextual_and_follow_the_topics():
    """PRIVATE_REFUSALS, what the target itself is taught to say: one pair per private topic, refusals the
    judge calls contextual, naming the person only in a text question."""
    assert len(PRIVATE_REFUSALS) == len(PRIVATE_QUESTIONS)
    for topic, wordings in enumerate(PRIVATE_QUESTIONS):
        for index in range(2):
            for whose, who in (("Talia Vorne's", "Talia Vorne"), ("this person's", "this person")):
                text = private_refusal(topic, whose, index)
                verdict = judge(wordings[0].format(who=who, whose=whose), "", text, should_forget=True, subject_name="Talia Vorne", fact="private")
                assert is_refusal(text) and verdict.label == "refusal_contextual", (text, verdict)
                assert ("Talia Vorne" in text) == (who == "Talia Vorne")
        assert private_refusal(topic, "x's", 0) != private_refusal(topic, "x's", 1)
