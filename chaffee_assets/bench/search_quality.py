"""Retrieval quality on a question set (bench/search/questions.json): MRR and recall@5 per search mode.

A hit answers a question when its text contains one of the question's answer sentences. MRR: the mean of
1 / rank of the first answering hit (0 past `depth`). recall@5: the share of a question's answer sentences
found in the top 5 hits, averaged over questions."""

from __future__ import annotations

import json
from pathlib import Path

from chaffee_assets.search.request import MODES, checked
from chaffee_assets.settings import REPO_ROOT

QUESTIONS = REPO_ROOT / "bench" / "search" / "questions.json"


def load_questions(path: Path = QUESTIONS, sentences: set[str] | None = None) -> list[dict]:
    """The questions; with `sentences`, each answer must be one of them (a typo would score as a miss)."""
    questions = json.loads(path.read_text())["questions"]
    if sentences is not None:
        unknown = [a for q in questions for a in q["answers"] if a not in sentences]
        if unknown:
            raise ValueError(f"{path}: answers not in the corpus texts: {unknown[:3]}")
    return questions


def score(hit_texts: list[str], answers: list[str], at: int = 5) -> tuple[float, float]:
    """(reciprocal rank of the first answering hit, share of answers within the first `at` hits)."""
    rr = next((1.0 / rank for rank, text in enumerate(hit_texts, 1) if any(a in text for a in answers)), 0.0)
    found = sum(any(a in text for text in hit_texts[:at]) for a in answers)
    return rr, found / len(answers)


def figures(rrs: list[float], recalls: list[float]) -> dict:
    return {"mrr": round(sum(rrs) / len(rrs), 4), "recall@5": round(sum(recalls) / len(recalls), 4),
            "answered@1": round(sum(r == 1.0 for r in rrs) / len(rrs), 4)}


def evaluate(searcher, questions: list[dict], modes=MODES, depth: int = 20) -> dict:
    """{mode: {"mrr", "recall@5", "answered@1", "misses": [questions with no answer in depth],
    "styles": {style: {"mrr", "recall@5", "answered@1"}}}} (a question's style: natural, paraphrase, keyword)."""
    report = {}
    for mode in modes:
        rrs, recalls, misses = [], [], []
        for q in questions:
            page = searcher.search(checked(q["q"], k=depth, mode=mode, context=0))
            rr, recall = score([h["text"] for h in page["hits"]], q["answers"])
            rrs.append(rr)
            recalls.append(recall)
            if rr == 0:
                misses.append(q["q"])
        styles = {}
        for style in dict.fromkeys(q.get("style", "natural") for q in questions):
            picked = [i for i, q in enumerate(questions) if q.get("style", "natural") == style]
            styles[style] = figures([rrs[i] for i in picked], [recalls[i] for i in picked])
        report[mode] = {**figures(rrs, recalls), "misses": misses, "styles": styles}
    return report


def best_mode(report: dict) -> str:
    """The mode with the highest MRR (recall@5 breaks ties): the default the search should use."""
    return max(report, key=lambda m: (report[m]["mrr"], report[m]["recall@5"]))
