"""The request and response bodies of the HTTP API, as pydantic models (they make the OpenAPI document).

Requests refuse unknown keys (`extra="forbid"`), so a misspelt field is a 422 naming it, not a
silently ignored option. A row is a flat mapping of input name to a JSON scalar; its values are
then typed and checked by the same rules as `compose predict` (`compose.data.targets.prepare_inputs`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from compose.typing import Outcome, Row, Source

ReleaseName = Annotated[str, Field(pattern=r"^r\d{4,}$", description="a release name such as r0003",
                                   examples=["r0001"])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictRequest(_Strict):
    """Rows to predict, each a mapping of input name to value; `release` pins a release (default: the live one)."""

    rows: list[Row] = Field(description="one mapping of input name to value per row",
                            examples=[[{"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181,
                                        "body_mass_g": 3750}]])
    release: ReleaseName | None = None


class GroupResult(_Strict):
    """One group's answer for one row, as in `compose predict`'s JSON Lines (`compose.typing.GroupResult`,
    field by field: tests/runtime/test_result_types.py)."""

    label: str | None = None
    labels: list[str] | None = None
    confidence: float | None = None
    path: list[str] | None = Field(None, description="a hierarchy's path from the top, as far as it is confident")
    path_confidence: float | None = None
    skipped: str | None = Field(None, description="the gate's answer on a row the group's `when` gated off")
    scores: dict[str, float] | None = None
    version: int
    versions: dict[str, int] | None = Field(None, description="a hierarchy's heads and the version of each")
    source: Source | None = Field(
        None, description="`zero-shot`: the group's head reads its label texts (cold start); absent: a trained head")
    abstained: str | None = None
    review: bool | None = None
    candidate: str | None = None
    decision_version: int | None = Field(description="the tuned decision in force; null: the schema's own")
    outcome: Outcome
    stopped_at: str | None = Field(None, description="the inner node a hierarchy's path stopped at")
    reason: str | None = None


class MergedResult(_Strict):
    """One row's merged answer: flat labels, every group's detail and the release that answered
    (`compose.typing.MergedResult`)."""

    labels: list[str]
    groups: dict[str, GroupResult]
    release: str
    review: list[str] | None = None


class PredictResponse(_Strict):
    results: list[MergedResult]


class GroupInfo(_Strict):
    """A group of the live release: the version it pins, that version's holdout metrics and the decision in force."""

    type: str
    labels: list[str]
    version: int
    versions: list[int] = Field(description="every stored version of the group")
    created: str | None = None
    n_train: int | None = None
    n_holdout: int | None = None
    gate_metric: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict, description="holdout metrics from the version's meta.json")
    decision: dict[str, Any] = Field(description="the decision in force (the schema's, or a tuned one)")
    decision_version: int | None = Field(None, description="the tuned decision's version; null: the schema's own")
    source: Literal["model", "zero-shot"] = Field(
        "model", description="`zero-shot`: the version reads its label texts (the cold start); `model`: trained")


class FeatureInfo(_Strict):
    version: int
    versions: list[int]


class ModelInfo(_Strict):
    """The live release of the served model."""

    model: str
    release: str
    created: str | None = None
    note: str | None = None
    parent: str | None = None
    releases: list[str] = Field(description="every release of the store, oldest first")
    groups: dict[str, GroupInfo]
    features: dict[str, FeatureInfo]


class Health(_Strict):
    status: Literal["ok"]


class Ready(_Strict):
    status: Literal["ready", "not ready"]
    release: str | None = None
    reason: str | None = None


class ErrorBody(_Strict):
    """Every error: a short code and one sentence that says what, where and how to fix it."""

    error: str
    detail: str
    id: str | None = Field(None, description="the sample id a conflict is about")


class ReloadResponse(_Strict):
    release: str | None
    changed: bool


# --- samples and jobs (the learning routes) ------------------------------------------------------

#: A group's cell in a sample row: a label, a list of present labels, per-label truth, or null (unknown).
Annotation = str | list[str] | dict[str, bool] | None
SampleRow = dict[str, str | int | float | bool | list[str] | dict[str, bool] | None]


class SamplesRequest(_Strict):
    """Samples to store: each row holds the inputs, optionally an `id`, and any group's annotation
    (empty or null: unknown; for a multilabel group a list of labels or per-label truth `{"red": true}`)."""

    rows: list[SampleRow] = Field(examples=[[{"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181,
                                             "body_mass_g": 3750, "species": "Adelie"}]])


class SampleFilter(BaseModel):
    """The query of `GET /v1/samples`: which samples, and which page."""

    group: str | None = Field(None, description="samples of this group (with `annotated`, `disagrees`)")
    annotated: bool | None = Field(None, description="annotated for `group` (true) or not (false)")
    disagrees: bool = Field(False, description="only samples whose annotation of `group` the live release answers "
                                               "otherwise")
    split: str | None = Field(None, pattern="^(train|holdout)$")
    source: str | None = Field(None, description="e.g. api, capture, or a file name")
    after: int | None = Field(None, ge=0, description="the `next_after` of the previous page")
    limit: int = Field(100, ge=1, le=500)


class SamplesResponse(_Strict):
    ids: list[str] = Field(description="the id of each row's sample: its `id`, else the id of the new sample it made")
    revision: int | None = Field(description="the sample store's revision of this write (null: nothing changed)")
    new_samples: int
    known_samples: int
    added: dict[str, int]
    scheduled: list[str] = Field(description="groups whose retrain this write scheduled")
    notes: list[str] = Field(default_factory=list, description="what was ignored: columns the schema does not declare")


class AnnotationRequest(_Strict):
    value: str | list[str] | dict[str, bool] = Field(description="a label, a list of present labels (multilabel) "
                                                                 "or per-label truth {label: true|false}")


class AnnotationResponse(_Strict):
    id: str
    group: str
    annotation: Annotation
    revision: int | None = Field(description="the revision of the change (null: nothing changed)")
    scheduled: list[str]


class SampleOut(_Strict):
    id: str
    split: str
    source: str
    added: str
    revision: int
    inputs: dict[str, Any]
    annotations: dict[str, Annotation]
    prediction: dict[str, Any] | None = Field(None, description="the live release's answer for the filtered group "
                                                                "(review lists only)")


class SamplesPage(_Strict):
    samples: list[SampleOut]
    next_after: int | None = Field(description="pass as `after` for the next page (null: the last page)")


JobStatus = Literal["scheduled", "running", "released", "refused", "unchanged", "failed"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Job(_Strict):
    """One retrain of one group and its gate verdict: scheduled -> running -> released | refused | unchanged | failed.

    The one record of a job: the learner keeps it, the worker process fills it in and returns it,
    and `/v1/jobs` answers it.
    """

    id: str
    group: str
    status: JobStatus = "scheduled"
    created: str = Field(default_factory=_now)
    started: str | None = None
    finished: str | None = None
    samples: int | None = None
    from_release: str | None = None
    release: str | None = None
    version: int | None = None
    n_train: int | None = None
    n_holdout: int | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    gate: dict[str, Any] | None = Field(None, description="the gate's verdict: metric, candidate, live, passed")
    retrained: list[str] = Field(default_factory=list, description="every group this job retrained (the job's, "
                                                                   "and others whose annotations changed meanwhile)")
    error: str | None = None
    seconds: float | None = None

    def updated(self, **changes: Any) -> Job:
        """A copy with `changes`, validated: a misspelt field or a value of the wrong type raises."""
        return Job.model_validate({**self.model_dump(), **changes})


class JobsPage(_Strict):
    jobs: list[Job]
    pending: list[str] = Field(description="groups with a retrain scheduled or running")
