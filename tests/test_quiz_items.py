"""The quick test as an assessment: item-writing rules on the bank and on generated instances,
keys tied to the course, a balanced draw, and no pass for test-wise strategies or guessing.

Item-writing rules follow Haladyna, Downing & Rodriguez (2002): options of similar length and
grammar, no qualifier only in the key, no catch-all options, plausible distractors (for
computed questions: answers of named wrong computations), keys spread over the positions.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from grader.quiz import bank as bank_module
from grader.quiz import selection as draw_module
from grader.quiz.generators import GENERATORS, KEY
from grader.quiz.model import MAX_PER_AREA, PASS_FRACTION, QUESTIONS_PER_QUIZ
from grader.suites.registry import EXERCISE_IDS
from tests import quiz_testwise

ROOT = Path(__file__).resolve().parents[1]
BANK = bank_module.load()
FIXED = [q for q in BANK.questions if not bank_module.is_computed(q)]
COMPUTED = [q for q in BANK.questions if bank_module.is_computed(q)]
QUIZZES = 2000
INSTANCES = 100
PASS_MARK = math.ceil(PASS_FRACTION * QUESTIONS_PER_QUIZ)  # 6 of 8
# The lessons the bank covered when it was written; later lessons add an area and >= 4 questions.
LESSONS_COVERED = [f"{n:02d}" for n in range(1, 8)]

WORD = re.compile(r"[a-z0-9']+")
CATCH_ALL = re.compile(r"^\s*(none|all|both|neither) of (these|those|the above|the others)\b", re.I)
PARENTHETICAL = re.compile(r"\((?:[A-Za-z']+\s+){2,}")  # "(in this course's contract)", not "d(x, x)"
QUALIFIERS = {"usually", "often", "can", "may", "might", "typically", "generally", "sometimes", "probably",
              "likely", "course", "course's", "contract", "roughly", "about"}


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def normalised(text: str) -> str:
    """Case, spacing and final punctuation do not make two options different."""
    return re.sub(r"\s+", " ", text.lower()).strip().rstrip(".!?;")


@pytest.fixture(scope="module")
def quizzes():
    """2000 practice quizzes (users tw0..tw1999, attempt 1), shared by the draw and strategy tests."""
    return [draw_module.draw(f"tw{i}", 1, BANK) for i in range(QUIZZES)]


# ----------------------------------------------------------------------------- topics and areas
def test_every_area_is_a_lesson_and_every_topic_a_lesson_or_an_exercise():
    lessons = {p.stem for p in (ROOT / "lessons" / "src").glob("[0-9][0-9]_*.py")}
    assert set(BANK.areas) <= lessons, sorted(set(BANK.areas) - lessons)
    listed = [t for topics in BANK.areas.values() for t in topics]
    assert sorted(listed) == sorted(set(listed)) and set(listed) <= set(EXERCISE_IDS)
    assert set(EXERCISE_IDS) <= set(listed), "every exercise belongs to the area of the lesson that teaches it"
    for q in BANK.questions:
        assert q["topic"] in lessons | set(EXERCISE_IDS), (q["id"], q["topic"])
        BANK.area_of(q)  # raises when the topic is in no area
    covered = {area[:2] for area in BANK.areas}
    assert set(LESSONS_COVERED) <= covered


def test_every_area_has_at_least_four_questions_and_a_fixed_one():
    groups = BANK.by_area()
    assert set(groups) == set(BANK.areas)
    for area, qs in groups.items():
        assert len(qs) >= 4, area
        assert any(not bank_module.is_computed(q) for q in qs), area
    assert len(BANK.questions) >= 60
    assert any("pitfall" in q.get("tags", ()) for q in FIXED)


def test_a_bad_bank_or_pool_is_refused_with_a_clear_error():
    good = {"id": "x", "topic": "06_memory_bank", "prompt": "?", "choices": ["a", "b", "c", "d"], "answer": 0,
            "explanation": "because"}
    areas = {k: list(v) for k, v in BANK.areas.items()}
    bank_module.parse({"areas": areas, "questions": [good]}, "t.json")
    for bad, says in [
        ({**good, "topic": "99_nowhere"}, "belongs to no area"),
        ({**good, "choices": ["a", "b", "c", "A"]}, "duplicate choices"),
        ({**good, "answer": 4}, "answer must be"),
        ({**good, "answer": True}, "answer must be"),
        ({**good, "choices": ["a", "b", "c"]}, "4 non-empty string choices"),
        ({"id": "y", "topic": "06_memory_bank", "kind": "computed", "generator": "nope", "explanation": "e"}, "unknown generator"),
        ({**good, "explanation": ""}, "explanation"),
    ]:
        with pytest.raises(bank_module.BankError, match=says):
            bank_module.parse({"areas": areas, "questions": [bad]}, "t.json")
    with pytest.raises(bank_module.BankError, match="duplicate question ids"):
        bank_module.parse({"areas": areas, "questions": [good, good]}, "t.json")


# ----------------------------------------------------------------------------- fixed questions
@pytest.mark.parametrize("q", FIXED, ids=lambda q: q["id"])
def test_fixed_question_follows_the_item_writing_rules(q):
    choices, key = q["choices"], q["choices"][q["answer"]]
    lengths = [len(c) for c in choices]
    assert max(lengths) <= 1.5 * min(lengths) + 6, f"options of very different lengths: {lengths}"
    assert len({normalised(c) for c in choices}) == len(choices), "two options say the same"
    assert not [c for c in choices if CATCH_ALL.search(c)], "no 'none/all of these' options"
    distractor_words = [words(c) for i, c in enumerate(choices) if i != q["answer"]]
    only_key = {w for w in QUALIFIERS & words(key) if not any(w in d for d in distractor_words)}
    assert not only_key, f"qualifier only in the key: {only_key}"
    assert not PARENTHETICAL.search(key) or any(PARENTHETICAL.search(c) for c in choices if c != key), \
        "a parenthetical remark only in the key"
    assert len({c.rstrip()[-1] in ".!?" for c in choices}) == 1, "options end alike"
    starts = {c[0].isupper() for c in choices if c[0].isalpha() and not re.match(r"\w*[A-Z]\w*[A-Z]", c)}
    assert len(starts) <= 1, "options start alike (capital or not)"


def key_strictly_longest_and_shortest() -> tuple[int, int]:
    """In how many fixed questions the key is strictly the longest option, and strictly the shortest."""
    def strictly(q, better):
        key = len(q["choices"][q["answer"]])
        return all(better(key, len(c)) for i, c in enumerate(q["choices"]) if i != q["answer"])

    return sum(strictly(q, lambda k, c: k > c) for q in FIXED), sum(strictly(q, lambda k, c: k < c) for q in FIXED)


def test_the_key_is_rarely_the_longest_or_the_shortest_option():
    longest, shortest = key_strictly_longest_and_shortest()
    assert longest <= 0.30 * len(FIXED), f"key strictly longest in {longest} of {len(FIXED)}"
    assert shortest <= 0.30 * len(FIXED), f"key strictly shortest in {shortest} of {len(FIXED)}"


def test_absolute_words_do_not_single_out_the_distractors():
    absolute = quiz_testwise.ABSOLUTE
    marked = sum(1 for q in FIXED
                 if not words(q["choices"][q["answer"]]) & absolute
                 and any(words(c) & absolute for i, c in enumerate(q["choices"]) if i != q["answer"]))
    assert marked <= 0.5 * len(FIXED)


# ----------------------------------------------------------------------------- computed questions
RULES_STATED = {  # what each prompt must say, because the key depends on it
    "semi_hard_pick": ["both bounds strict", "ties: the smaller index", "dropped"],
    "window_count": ["both bounds strict"],
    "batch_hard_pick": ["p ≠ a", "ties: the smaller index"],
    "hardest_pick": ["ties: the smaller index", "whatever d(a,p)"],
    "dw_zero": ["bound inclusive", "d >= nonzero_loss_cutoff"],
    "positive_pairs_count": ["a ≠ p"],
    "usable_anchor_count": ["p ≠ a"],
    "distance_value": ["Euclidean"],
    "nearest_point": ["not normalised", "Euclidean"],
    "triplet_loss_value": ["not squared"],
    "pk_batch_count": ["topped up"],
    "recall_at_1": ["tie", "occurs at least twice"],
    "far_at_threshold": ["ties accepted", "at most"],
    "active_fraction": ["non-zero", "plain distances"],
    "pk_pairs": ["a ≠ p"],
    "memory_negatives": ["Anchors come from the batch"],
    "iou_value": ["area = (x2 - x1)(y2 - y1)"],
    "nms_keep": ["strictly greater", "equal scores: smaller index first"],
    "ohem_keep": ["equal losses: smaller index first", "without NMS"],
    "ohem_loss_value": ["ignored RoIs are never selected", "mean over the selected"],
}


# Questions whose instance is built so that each of three misconceptions points to its own option.
BUILT_AROUND_THREE = {"nearest_point": "q and four points: the Euclidean nearest, the largest cosine, the largest "
                                       "dot product and the smallest Manhattan distance are four different points"}


@pytest.fixture(scope="module")
def instances():
    return {name: [gen(random.Random(seed)) for seed in range(INSTANCES)] for name, gen in GENERATORS.items()}


def _as_value(text: str):
    try:
        return ("number", round(float(text), 6))
    except ValueError:
        pass
    numbers = re.findall(r"-?\d+", text)
    return ("items", frozenset(numbers)) if text.startswith("[") else ("text", normalised(text))


def test_every_generator_is_in_the_bank_and_states_its_rules():
    assert {q["generator"] for q in COMPUTED} == set(GENERATORS) == set(RULES_STATED)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generated_options_are_distinct_misconceptions_with_the_rules_stated(name, instances):
    sources_seen = Counter()
    for prompt, choices, answer, sources in instances[name]:
        assert len(choices) == 4 and 0 <= answer < 4
        assert sources[answer] == KEY and sources.count(KEY) == 1
        assert all(s and s != KEY for i, s in enumerate(sources) if i != answer), "every distractor is named"
        assert len({_as_value(c) for c in choices}) == 4, f"equivalent options: {choices}"
        assert not [c for c in choices if CATCH_ALL.search(c)]
        for rule in RULES_STATED[name]:
            assert rule in prompt, f"{name}: the prompt must state {rule!r}"
        sources_seen.update(s for s in sources if s != KEY)
    if name in BUILT_AROUND_THREE:
        assert len(sources_seen) == 3
    else:
        assert len(sources_seen) >= 4, f"distractors come from a set of misconceptions, not a fixed few: {sources_seen}"
        assert max(sources_seen.values()) < 0.9 * len(instances[name]), "no misconception is always offered"
    assert GENERATORS[name](random.Random(7)) == GENERATORS[name](random.Random(7))


_TRANSFORMS = {"x/2": lambda x: x / 2, "2x": lambda x: 2 * x, "1-x": lambda x: 1 - x, "x^2": lambda x: x * x,
               "x+1": lambda x: x + 1, "x-1": lambda x: x - 1, "x+1/8": lambda x: x + 0.125, "-x": lambda x: -x}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_no_distractor_is_a_fixed_transform_of_the_key(name, instances):
    """Each misconception's answer is computed from the instance: none of them is, instance after
    instance, the key halved, doubled, complemented, squared, or moved by 1 or 1/8 (small counts
    and fractions may coincide with such a value now and then, which is fine)."""
    offered, hits = Counter(), Counter()
    for _, choices, answer, sources in instances[name]:
        if not all(_as_value(x)[0] == "number" for x in choices):
            return
        key = float(choices[answer])
        for value, source in zip(choices, sources):
            if source == KEY:
                continue
            offered[source] += 1
            for label, f in _TRANSFORMS.items():
                if abs(f(key) - float(value)) < 1e-3:
                    hits[source, label] += 1
    for (source, label), n in hits.items():
        if offered[source] >= 10:
            assert n < 0.9 * offered[source], f"{name}: {source!r} is {label} of the key in {n} of {offered[source]}"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_the_keys_rank_among_the_options_is_spread(name, instances):
    """By value (numbers) or length (text): 'pick the largest / middle / longest' gets ~1/4."""
    ranks = Counter()
    for _, choices, answer, _ in instances[name]:
        numeric = all(_as_value(c)[0] == "number" for c in choices)
        measure = [float(c) if numeric else len(c) for c in choices]
        below = sum(m < measure[answer] for m in measure)
        level = sum(m == measure[answer] for m in measure) - 1
        ranks[below if not level else "tied"] += 1
    for rank in range(4):
        assert ranks[rank] <= 0.45 * INSTANCES, f"{name}: key at rank {rank} in {ranks[rank]} of {INSTANCES}"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_no_surface_cue_finds_the_key_of_a_kind_of_computed_question(name, instances):
    """The review found cues right on 70-90 % of a question's instances ("the option whose half,
    double or complement are also options" on IoU, the odd count out beside 0, 1, 2). Here no
    test-wise strategy is right on more than half of a generator's instances (chance: a quarter)."""
    for strategy, pick in quiz_testwise.STRATEGIES.items():
        right = sum(pick(prompt, list(choices)) == answer for prompt, choices, answer, _ in instances[name])
        assert right <= 0.5 * INSTANCES, f"{name}: {strategy!r} finds the key in {right} of {INSTANCES} instances"


# ----------------------------------------------------------------------------- the draw
def test_the_draw_is_balanced_over_the_lessons(quizzes):
    areas = list(BANK.areas)
    by_id = {q["id"]: q for q in BANK.questions}
    present = Counter()
    drawn = Counter()
    for qs in quizzes:
        per_area = Counter(BANK.area_of(by_id[q.id]) for q in qs)
        assert max(per_area.values()) <= MAX_PER_AREA
        assert len(qs) == QUESTIONS_PER_QUIZ and len({q.id for q in qs}) == QUESTIONS_PER_QUIZ
        assert any(not bank_module.is_computed(by_id[q.id]) and "pitfall" in by_id[q.id].get("tags", ()) for q in qs)
        present.update(per_area)
        drawn.update(q.id for q in qs)
    # Each area is in a share p of the quizzes: all of them while there are at most 8 areas, 8 / areas
    # beyond. The count over QUIZZES draws is binomial; allow 4 standard deviations below its mean.
    share = min(1.0, QUESTIONS_PER_QUIZ / len(areas))
    spread = 4 * math.sqrt(QUIZZES * share * (1 - share))
    for area in areas:
        assert present[area] >= share * QUIZZES * 0.99 - spread, (area, present[area])
    assert set(drawn) == set(by_id), f"never drawn: {sorted(set(by_id) - set(drawn))}"
    rate = {qid: drawn[qid] / QUIZZES for qid in by_id}
    fixed = [rate[q["id"]] for q in FIXED]
    computed = [rate[q["id"]] for q in COMPUTED]
    assert sum(computed) / len(computed) <= sum(fixed) / len(fixed), "computed questions are no more likely than fixed"
    for area, qs in BANK.by_area().items():  # within an area computed ones are not favoured
        c = [rate[q["id"]] for q in qs if bank_module.is_computed(q)]
        f = [rate[q["id"]] for q in qs if not bank_module.is_computed(q)]
        if c and f:
            assert sum(c) / len(c) <= 1.25 * sum(f) / len(f), area


def test_the_draw_is_data_driven_for_new_lessons():
    """A lesson appended to the bank (an area and its questions) is drawn like the others."""
    areas = {**BANK.areas, "99_new_lesson": ()}
    extra = [{"id": f"new-{i}", "topic": "99_new_lesson", "prompt": f"q{i}?", "choices": ["a", "b", "c", "d"],
              "answer": i % 4, "explanation": "x"} for i in range(4)]
    bigger = bank_module.Bank(BANK.questions + tuple(extra), areas)
    seen = Counter()
    for i in range(300):
        qs = draw_module.balanced(random.Random(i), list(bigger.questions), bigger)
        per_area = Counter(bigger.area_of(q) for q in qs)
        assert max(per_area.values()) <= MAX_PER_AREA and len(qs) == QUESTIONS_PER_QUIZ
        seen.update(q["id"] for q in qs if q["topic"] == "99_new_lesson")
    assert len(seen) == 4


def test_keys_are_spread_over_the_positions(quizzes):
    positions = Counter(q.answer for qs in quizzes for q in qs)
    n = sum(positions.values())
    for p in range(4):
        assert abs(positions[p] / n - 0.25) < 0.02, positions


# ----------------------------------------------------------------------------- test-wise students
@pytest.mark.parametrize("strategy", sorted(quiz_testwise.STRATEGIES))
def test_a_test_wise_strategy_without_knowledge_does_not_pass(strategy, quizzes):
    pick = quiz_testwise.STRATEGIES[strategy]
    passed = sum(sum(pick(q.prompt, list(q.choices)) == q.answer for q in qs) >= PASS_MARK for qs in quizzes)
    assert passed <= 0.02 * QUIZZES, f"{strategy} passes {passed} of {QUIZZES} quizzes"


def test_a_test_wise_student_who_practises_each_kind_of_question_does_not_pass(quizzes, instances):
    """The strongest test-wise student here: on each computed question the strategy that worked
    best on that generator's practice instances (the ``instances`` seeds, not the quizzes'), on
    fixed questions each generic strategy in turn (learning a fixed question's key from practice
    feedback is learning the bank, not test-wiseness)."""
    best = quiz_testwise.learned({name: [(p, c, a) for p, c, a, _ in seen] for name, seen in instances.items()})
    generator_of = {q["id"]: q["generator"] for q in COMPUTED}
    for fixed_strategy in sorted(quiz_testwise.STRATEGIES):
        def pick(q):
            name = best[generator_of[q.id]] if q.id in generator_of else fixed_strategy
            return quiz_testwise.STRATEGIES[name](q.prompt, list(q.choices))
        passed = sum(sum(pick(q) == q.answer for q in qs) >= PASS_MARK for qs in quizzes)
        assert passed <= 0.02 * QUIZZES, f"per-question cues + {fixed_strategy}: {passed} of {QUIZZES} pass"


def test_uniform_guessing_passes_under_one_percent(quizzes):
    exact = sum(math.comb(8, k) * 0.25**k * 0.75 ** (8 - k) for k in range(PASS_MARK, 9))
    assert exact < 0.01  # 0.42 %
    rng = random.Random(0)
    passed = sum(sum(rng.randrange(len(q.choices)) == q.answer for q in qs) >= PASS_MARK for qs in quizzes)
    assert passed < 0.01 * QUIZZES


def test_the_strategies_do_find_the_cues_they_look_for():
    """Each strategy is live: on a question written with its cue, it finds the key."""
    s = quiz_testwise.STRATEGIES
    assert s["longest"]("?", ["a", "the long and detailed key", "b", "c"]) == 1
    assert s["derived numbers"]("?", ["0.25", "0.5", "0.75", "0.125"]) == 0
    assert s["convergent words"]("?", ["p = 1, n = 2", "p = 1, n = 3", "p = 4, n = 2", "p = 5, n = 6"]) == 0
    assert s["no absolutes"]("?", ["never true", "true in general", "always true", "all true"]) == 1
    assert s["odd words"]("?", ["red apple", "red pear", "red plum", "blue sky"]) == 3
    assert s["odd value"]("?", ["1", "6", "0", "2"]) == 1
    assert quiz_testwise.learned({"g": [("?", ["7", "9", "8", "1"], 1), ("?", ["8", "1", "2", "0"], 0)],
                                  "h": [("?", ["a", "bb", "ccc", "dddd"], 3)]}) == {"g": "largest value", "h": "longest"}
    pairs = list(itertools.permutations(range(4)))
    assert all(0 <= s["middle value"]("?", [str(v) for v in p]) < 4 for p in pairs)


def test_the_readme_states_the_numbers_of_this_bank(quizzes):
    """The README's quiz section quotes the bank's size, the key-length counts, the share of
    quizzes each lesson is in, and the best generic test-wise strategy's passes: the numbers
    of this bank, not of an earlier one."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## The quick test (`hnm quiz`)")[1]
    flat = " ".join(section.split("\n## ")[0].split())

    def quoted(pattern):
        found = re.search(pattern, flat)
        assert found, f"the README's quiz section no longer says {pattern!r}"
        return tuple(int(g) for g in found.groups())

    assert quoted(r"a bank of (\d+) \(`grader/quiz/bank.json`\): (\d+) fixed questions and (\d+) computed") == (
        len(BANK.questions), len(FIXED), len(COMPUTED))
    assert quoted(r"strictly longest in (\d+) and strictly shortest in (\d+) of (\d+) fixed") == (
        *key_strictly_longest_and_shortest(), len(FIXED))
    if len(BANK.areas) > QUESTIONS_PER_QUIZ:
        assert quoted(r"each lesson is in (\d+) of (\d+) quizzes") == (QUESTIONS_PER_QUIZ, len(BANK.areas))
    best = max(sum(sum(pick(q.prompt, list(q.choices)) == q.answer for q in qs) >= PASS_MARK for qs in quizzes)
               for pick in quiz_testwise.STRATEGIES.values())
    assert quoted(r"pass at most [0-9.]+% of quizzes \((\d+) of (\d+);") == (best, QUIZZES)
