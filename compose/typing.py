"""The names every layer shares: matrices, input cells, and the result types, defined once.

`GroupResult` and `MergedResult` are the shape of a prediction wherever it is given: the dicts
of `ComposedModel.predict` (`compose.runtime.merge` for a few rows, `compose.runtime.predictions`
column-wise for a batch), the JSON Lines fast path (`Predictions.to_jsonl`), the ONNX runner
(`compose.export.onnx`) and the HTTP answers (`compose.serve.messages`). The fast paths build the
same keys by hand for speed; `tests/runtime/test_result_types.py` checks every path against these
declarations field by field, so a field added here and not there fails.

The module imports only the standard library: every layer may import it. (It does not postpone
its annotations: `TypedDict` reads `NotRequired` from evaluated ones, so `__required_keys__` is right.)
"""

from typing import Any, Literal, NotRequired, TypedDict

#: A feature matrix: a dense numpy array or a scipy CSR matrix (rows are samples).
Matrix = Any

#: One input value of a row: text, a number, a boolean or None (empty). Nested values are refused.
Cell = str | int | float | bool | None
#: One input row: input name -> value.
Row = dict[str, Cell]

#: Why a group's result is what it is. `stopped` is a hierarchy's (its path ends above a leaf).
Outcome = Literal["labelled", "abstained", "review", "rejected", "below_threshold", "skipped", "stopped"]
#: Who answered: a trained head (`model`, never written out) or one that reads its label texts.
Source = Literal["model", "zero-shot"]


class GroupResult(TypedDict):
    """One group's answer for one row. `version`, `decision_version` and `outcome` are always there.

    - multiclass and binary: `label`, `confidence`, `scores`; `labels` for a top_k or cumulative
      set (best first); `abstained` (the reason) below `min_confidence`; `review` and `candidate`
      when zones send the row to review;
    - multilabel: `labels` and `scores`;
    - hierarchy: `label` (the deepest node kept), `confidence`, `path`, `path_confidence`,
      `scores` (every node's path probability), `versions` (each head's), `stopped_at`;
    - a zero-shot head's answer says `source: "zero-shot"`;
    - a row the group's `when` gated off: `skipped` (the gate's answer) and no `scores`;
    - `reason`: why no label (or a stopped path) was given, in one sentence.
    """

    label: NotRequired[str | None]
    labels: NotRequired[list[str]]
    confidence: NotRequired[float | None]
    path: NotRequired[list[str]]
    path_confidence: NotRequired[float | None]
    skipped: NotRequired[str]
    scores: NotRequired[dict[str, float]]
    version: int
    versions: NotRequired[dict[str, int]]
    source: NotRequired[Source]
    abstained: NotRequired[str]
    review: NotRequired[bool]
    candidate: NotRequired[str]
    decision_version: int | None
    outcome: Outcome
    stopped_at: NotRequired[str]
    reason: NotRequired[str]


class MergedResult(TypedDict):
    """One row's merged answer: the flat labels of every group, each group's result, the release
    that answered, and `review` (the groups that sent the row to review) when some did."""

    labels: list[str]
    groups: dict[str, GroupResult]
    release: str
    review: NotRequired[list[str]]
