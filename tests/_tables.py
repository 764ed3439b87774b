"""Real tables that install offline, each with a schema, for the real-data gauntlet.

Adding a table is one entry of `TABLES`: a name, a schema (YAML text) and a loader returning the
table as it comes (its rows in their order, repeated inputs, empty cells and extra columns kept).
Sources and licences:

- iris, wine, breast_cancer, digits: scikit-learn's bundled copies of the UCI data sets (BSD-3
  package; the data sets are public, see `sklearn.datasets`);
- penguins, penguins_coarse: Palmer penguins (CC0), the `palmerpenguins` package (MIT); the coarse
  copy keeps the flipper length to tens and the year: 23 distinct inputs for 344 rows;
- movies: tests/fixtures/movies_sample.csv, 1,200 films of the Wikidata snapshot (CC0);
- emoji: tests/fixtures/emoji (MIT data, Apache-2.0 Noto images; tests/fixtures/emoji/SOURCE.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tests._schemas import BIRDS_HEADER

DATA = Path(__file__).resolve().parent / "fixtures"
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@dataclass(frozen=True)
class Table:
    name: str
    schema: str  # YAML text; `name:` is the table's name
    load: Callable[[], pd.DataFrame]


def _numbers_schema(name: str, columns: list[str], group: str, labels: list[str], kind: str = "multiclass") -> str:
    inputs = "\n".join(f"  {c}: {{type: number}}" for c in columns)
    return (f"schema_version: 1\nname: {name}\ninputs:\n{inputs}\nfeatures:\n"
            f"  x: {{type: tabular, inputs: [{', '.join(columns)}]}}\n"
            f"groups:\n  {group}:\n    type: {kind}\n    labels: [{', '.join(labels)}]\n    features: [x]\n")


def _sklearn(loader: str, group: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)(as_frame=True)
        frame = bunch.frame.drop(columns=["target"]).copy()
        frame.columns = [_column(c) for c in frame.columns]
        frame[group] = [str(bunch.target_names[t]) for t in bunch.target]
        return frame
    return load


def _column(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(name).replace(" (cm)", "")).strip("_").lower()


def _sklearn_table(name: str, loader: str, group: str, kind: str = "multiclass") -> Table:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader)(as_frame=True)
    columns = [_column(c) for c in bunch.frame.columns if c != "target"]
    labels = [str(t) for t in bunch.target_names]
    return Table(name, _numbers_schema(name, columns, group, labels, kind), _sklearn(loader, group))


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def _penguins_coarse() -> pd.DataFrame:
    df = _penguins()
    df["flipper_length_mm"] = df["flipper_length_mm"] // 10 * 10
    return df[["flipper_length_mm", "year", "species", "island", "sex"]]


PENGUINS = BIRDS_HEADER.replace("name: birds", "name: penguins") + """\
  species: {type: multiclass, labels: [Adelie, Chinstrap, Gentoo], features: [body]}
  island: {type: multiclass, labels: [Biscoe, Dream, Torgersen], features: [body], when: {species: [Adelie]}}
  sex: {type: binary, labels: [female, male], features: [body]}
"""

PENGUINS_COARSE = """schema_version: 1
name: penguins_coarse
inputs:
  flipper_length_mm: {type: number}
  year: {type: category}
features:
  body: {type: tabular, inputs: [flipper_length_mm, year]}
groups:
  species: {type: multiclass, labels: [Adelie, Chinstrap, Gentoo], features: [body]}
  island: {type: multiclass, labels: [Biscoe, Dream, Torgersen], features: [body]}
  sex: {type: binary, labels: [female, male], features: [body]}
"""

EMOJI = """schema_version: 1
name: emoji
inputs:
  image: {type: image}
  name: {type: text}
features:
  colour: {type: color_histogram, inputs: [image]}
  words: {type: tfidf, inputs: [name]}
groups:
  category:
    type: multiclass
    labels: [Activities, Animals & Nature, Flags, Food & Drink, Objects, People & Body, Smileys & Emotion, Symbols,
             Travel & Places]
    features: [words]
  skin_tone:
    type: multiclass
    labels: [none, light, medium-light, medium, medium-dark, dark]
    features: [colour]
training: {group_by: base}
"""


EMOJI_TREE = """schema_version: 1
name: emoji_tree
inputs:
  name: {type: text}
features:
  words: {type: tfidf, inputs: [name]}
groups:
  emoji:
    type: hierarchy
    labels:
      Smileys & Emotion: []
      People & Body: [person-fantasy, person-sport, person-activity, body-parts, hand-single-finger,
                      hand-fingers-closed, hand-fingers-open, hand-fingers-partial, hands, person-symbol,
                      person, person-role, family, person-gesture, hand-prop, person-resting]
      Animals & Nature: []
      Food & Drink: []
      Travel & Places: []
      Activities: []
      Objects: []
      Symbols: []
      Flags: []
    features: [words]
    decision: {min_confidence: 0.5}
training: {group_by: base}
"""


EMOJI_COLD = """schema_version: 1
name: emoji_cold
inputs:
  name: {type: text}
features:
  meaning: {type: embedding, inputs: [name]}
groups:
  category:
    type: multiclass
    labels: [Activities, Animals & Nature, Flags, Food & Drink, Objects, People & Body, Smileys & Emotion, Symbols,
             Travel & Places]
    features: [meaning]
    descriptions: {Flags: flag of a country}
"""


def _movies() -> pd.DataFrame:
    return pd.read_csv(DATA / "movies_sample.csv")


def _emoji() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "emoji" / "emoji.csv")
    frame["image"] = [str(DATA / "emoji" / p) for p in frame["image"]]
    return frame


def _emoji_tree() -> pd.DataFrame:
    """One hierarchy column: the subcategory where there is one, else the category; every name twice."""
    frame = pd.read_csv(DATA / "emoji" / "emoji.csv")
    return pd.DataFrame({"base": frame["base"], "name": frame["name"],
                         "emoji": frame["subcategory"].fillna(frame["category"])})


def _emoji_cold() -> pd.DataFrame:
    """A cold start: the names, and the category of only the first name of each (a zero-shot head)."""
    frame = pd.read_csv(DATA / "emoji" / "emoji.csv")[["name", "category"]]
    frame.loc[frame["category"].duplicated(), "category"] = None
    return frame


TABLES: list[Table] = [
    _sklearn_table("iris", "load_iris", "species"),
    _sklearn_table("wine", "load_wine", "cultivar"),
    _sklearn_table("breast_cancer", "load_breast_cancer", "diagnosis", kind="binary"),
    _sklearn_table("digits", "load_digits", "digit"),
    Table("penguins", PENGUINS, _penguins),
    Table("penguins_coarse", PENGUINS_COARSE, _penguins_coarse),
    Table("movies", (SCHEMAS / "movies.yaml").read_text(encoding="utf-8"), _movies),
    Table("emoji", EMOJI, _emoji),
    Table("emoji_tree", EMOJI_TREE, _emoji_tree),
    Table("emoji_cold", EMOJI_COLD, _emoji_cold),
]
