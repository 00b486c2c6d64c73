"""Test-wise strategies for multiple-choice questions: answers chosen with no knowledge of the
subject, from the options' surface alone (length, words shared, numbers derived from each
other, absolute words). Each strategy maps a question (prompt and choices only, never the
key) to a choice index; ties go to the first option in the presented order."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable

WORD = re.compile(r"[a-z0-9.]+")
ABSOLUTE = {"always", "never", "only", "all", "every", "none", "nothing", "no", "any", "cannot", "must"}


def _words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _argmax(values: list[float]) -> int:
    best = max(values)
    return values.index(best)


def longest(prompt: str, choices: list[str]) -> int:
    return _argmax([len(c) for c in choices])


def shortest(prompt: str, choices: list[str]) -> int:
    return _argmax([-len(c) for c in choices])


def odd_length(prompt: str, choices: list[str]) -> int:
    """The option whose length is farthest from the mean of the others."""
    n = len(choices)
    out = []
    for i, c in enumerate(choices):
        rest = [len(x) for j, x in enumerate(choices) if j != i]
        out.append(abs(len(c) - sum(rest) / (n - 1)))
    return _argmax(out)


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def convergent(prompt: str, choices: list[str]) -> int:
    """The option sharing the most words with the other options (distractors written as
    variations of the key)."""
    words = [_words(c) for c in choices]
    return _argmax([sum(_overlap(w, v) for j, v in enumerate(words) if j != i) for i, w in enumerate(words)])


def odd_words(prompt: str, choices: list[str]) -> int:
    """The option sharing the fewest words with the others (the odd one out)."""
    words = [_words(c) for c in choices]
    return _argmax([-sum(_overlap(w, v) for j, v in enumerate(words) if j != i) for i, w in enumerate(words)])


def echoes_prompt(prompt: str, choices: list[str]) -> int:
    """The option sharing the most words with the prompt."""
    p = _words(prompt)
    return _argmax([len(_words(c) & p) for c in choices])


def no_absolutes(prompt: str, choices: list[str]) -> int:
    """Drop options with absolute words ('always', 'never', 'only', ...), take the longest left."""
    keep = [i for i, c in enumerate(choices) if not (_words(c) & ABSOLUTE)] or list(range(len(choices)))
    return max(keep, key=lambda i: (len(choices[i]), -i))


_RELATIONS: tuple[Callable[[float], float], ...] = (
    lambda x: x / 2, lambda x: 2 * x, lambda x: 1 - x, lambda x: x * x, lambda x: math.sqrt(abs(x)),
    lambda x: x + 1, lambda x: x - 1, lambda x: x + 0.125, lambda x: x - 0.125, lambda x: -x,
)


def derived_hub(prompt: str, choices: list[str]) -> int:
    """Numbers: the option from which most other options follow by a simple transform
    (x/2, 2x, 1-x, x^2, sqrt x, x +- 1, x +- 1/8, -x); otherwise the longest."""
    values = [_number(c) for c in choices]
    if None in values:
        return longest(prompt, choices)
    score = []
    for i, x in enumerate(values):
        hits = sum(1 for j, y in enumerate(values) if j != i and any(abs(f(x) - y) < 1e-3 for f in _RELATIONS))
        score.append(hits)
    return _argmax(score)


def middle_value(prompt: str, choices: list[str]) -> int:
    """Numbers: the second smallest (test writers put the key among the middle values);
    otherwise the second longest option."""
    values = [_number(c) for c in choices]
    key = values if None not in values else [len(c) for c in choices]
    return sorted(range(len(choices)), key=lambda i: (key[i], i))[1]


def odd_value(prompt: str, choices: list[str]) -> int:
    """Numbers: the odd one out, the value farthest from the median of the others (a key
    among distractors that cluster, such as the small counts 0, 1, 2 beside a count of 6);
    otherwise the option of odd length."""
    values = [_number(c) for c in choices]
    if None in values:
        return odd_length(prompt, choices)
    return _argmax([abs(x - statistics.median(v for j, v in enumerate(values) if j != i)) for i, x in enumerate(values)])


def largest_value(prompt: str, choices: list[str]) -> int:
    values = [_number(c) for c in choices]
    if None in values:
        return longest(prompt, choices)
    return _argmax(values)


def smallest_value(prompt: str, choices: list[str]) -> int:
    values = [_number(c) for c in choices]
    if None in values:
        return shortest(prompt, choices)
    return _argmax([-v for v in values])


def combined(prompt: str, choices: list[str]) -> int:
    """Numbers: the derived hub; lists and indices: the convergent option; text: the longest."""
    if None not in [_number(c) for c in choices]:
        return derived_hub(prompt, choices)
    if all(c.startswith(("[", "p =", "point", "P")) or c == "dropped" for c in choices):
        return convergent(prompt, choices)
    return longest(prompt, choices)


STRATEGIES: dict[str, Callable[[str, list[str]], int]] = {
    "longest": longest, "shortest": shortest, "odd length": odd_length, "convergent words": convergent,
    "odd words": odd_words, "echoes the prompt": echoes_prompt, "no absolutes": no_absolutes,
    "derived numbers": derived_hub, "odd value": odd_value, "middle value": middle_value,
    "largest value": largest_value, "smallest value": smallest_value, "combined": combined,
}


def learned(instances: dict[str, list[tuple[str, list[str], int]]]) -> dict[str, str]:
    """A test-wise student who practises: for each kind of computed question (its generator),
    the strategy that was right most often on practice instances ``(prompt, choices, key)``.
    It learns which surface cue works for a kind of question, never the subject."""
    return {name: max(STRATEGIES, key=lambda s: sum(STRATEGIES[s](p, list(c)) == a for p, c, a in seen))
            for name, seen in instances.items()}
