"""A seeded synthetic corpus of product-like texts: 8 categories, 4 audiences and 12 tags.

Each label owns a handful of indicative words; a title mixes some of them with brand names and
common filler words, so TF-IDF with word 1-2 grams has tens of thousands of columns, as a real
catalogue would. The same seed and size give the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = ["shirt", "pants", "dress", "jacket", "shoes", "bag", "hat", "socks"]
AUDIENCES = ["baby", "kids", "teens", "adults"]
TAGS = ["red", "blue", "black", "white", "green", "cotton", "wool", "leather", "summer", "winter", "sale", "eco"]

SCHEMA = """
schema_version: 1
name: synthetic-products
inputs:
  title: {type: text}
  description: {type: text, required: false}
features:
  words: {type: tfidf, inputs: [title, description], params: {ngram_range: [1, 2], min_df: 2}}
groups:
  category: {type: multiclass, labels: [CATEGORIES], features: [words]}
  audience: {type: multiclass, labels: [AUDIENCES], features: [words]}
  tags: {type: multilabel, labels: [TAGS], features: [words]}
""".replace("CATEGORIES", ", ".join(CATEGORIES)).replace("AUDIENCES", ", ".join(AUDIENCES)).replace(
    "[TAGS]", "[" + ", ".join(TAGS) + "]")


def _words(rng: np.random.Generator, prefix: str, n: int) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return [prefix + "".join(rng.choice(letters, size=rng.integers(3, 8))) for _ in range(n)]


def make_corpus(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """`n_rows` products with a title, a description and their category, audience and tags."""
    rng = np.random.default_rng(seed)
    filler = _words(rng, "", 4000)
    brands = _words(rng, "br", 600)
    own = {label: _words(rng, label[:2], 12) for label in CATEGORIES + AUDIENCES + TAGS}
    rows = []
    for _ in range(n_rows):
        category = CATEGORIES[rng.integers(len(CATEGORIES))]
        audience = AUDIENCES[rng.integers(len(AUDIENCES))]
        tags = [t for t in TAGS if rng.random() < 0.18]
        words = [brands[rng.integers(len(brands))]]
        words += [own[category][rng.integers(12)] for _ in range(2)] + [own[audience][rng.integers(12)]]
        words += [own[t][rng.integers(12)] for t in tags]
        words += [filler[int(i)] for i in rng.zipf(1.3, size=rng.integers(4, 10)) % len(filler)]
        if rng.random() < 0.3:  # some noise: a word of another category
            words.append(own[CATEGORIES[rng.integers(len(CATEGORIES))]][rng.integers(12)])
        order = rng.permutation(len(words))
        title = " ".join(words[i] for i in order[:8])
        description = " ".join(words[i] for i in order[8:]) + " " + " ".join(
            filler[int(i)] for i in rng.integers(0, len(filler), size=rng.integers(5, 15)))
        rows.append({"title": title, "description": description, "category": category, "audience": audience,
                     "tags": "|".join(tags) if tags else "[]"})
    return pd.DataFrame(rows)
