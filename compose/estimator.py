"""`ComposedClassifier`: a composed model behind scikit-learn's estimator contract.

With a schema (`ComposedClassifier("schema.yaml")`) it fits every group of the schema from a
DataFrame and predicts one column per group. Without one (`ComposedClassifier()`) it works as
scikit-learn's own classifiers do, with no configuration: the schema is inferred from the arrays
it is fitted on (`schema_`), and it passes scikit-learn's estimator checks
(`sklearn.utils.estimator_checks`, run in the test suite; `EXPECTED_FAILED_CHECKS` lists the ones
that do not apply, with the reason).

`fit` trains into a store (a temporary one unless `store` is given) and keeps the loaded release
in memory as `model_`; a fitted estimator pickles.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from compose.data.io import as_frame
from compose.data.targets import parse_targets
from compose.errors import DataError
from compose.heads.decide import decide
from compose.registry import Registry
from compose.runtime.load import load
from compose.runtime.model import ComposedModel
from compose.schema.load import load_schema, schema_from_dict
from compose.schema.models import Schema, TrainingSpec
from compose.training.run import fit_and_release

#: scikit-learn estimator checks that do not apply to an inferred ComposedClassifier, with the reason;
#: pass it to `parametrize_with_checks(..., expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)`.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}

#: A non-numeric DataFrame column whose cells hold more words than this on average is read as text
#: (TF-IDF); the others as categories (one-hot).
TEXT_WORDS = 2.0


@dataclass(frozen=True)
class InferredTarget:
    """What `fit` inferred from `y`: the group's name, kind (binary, multiclass, multilabel), the
    labels (the classes as text) and the dtype a multilabel `predict` returns."""

    group: str
    kind: str
    labels: list[str]
    dtype: np.dtype[Any]


class ComposedClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A composed model as a scikit-learn estimator.

    Parameters
    ----------
    schema : path, Schema, dict or None
        The schema of the groups to learn. None infers one from the data `fit` is given: one input
        per column (`x0`..`xn` for an array, the column names of a DataFrame: numbers, categories,
        or text when the cells hold several words), one tabular and/or tfidf feature, and one group
        from `y` (binary for two classes, multiclass for more, multilabel for a 2-d 0/1 indicator).
    store : path or None
        Where versions are written; None trains into a temporary folder that is removed after fit.
    holdout : float or None
        Overrides the schema's holdout fraction (0 uses every row for fitting, as cross-validation
        usually wants). An inferred schema holds out nothing unless this is given.
    n_jobs : int or None
        Parallel head fits (None: automatic).
    registry : compose.registry.Registry or None
        The featurizers and estimators a schema may name (None: the built-ins and installed plugins).

    With a schema, `predict` returns an (n_rows, n_groups) object array: the label of each
    multiclass and binary group (None when abstained or skipped) and the `|`-joined labels of each
    multilabel group; `predict_proba` one (n_rows, n_labels) array per group, in `groups_` order.
    With an inferred schema they return what scikit-learn's classifiers return: `predict` one of
    `classes_` per row (a 0/1 row of the indicator for multilabel `y`), `predict_proba` an
    (n_rows, n_classes) array (P(label) per column for multilabel `y`).
    """

    def __init__(self, schema: str | Path | Schema | dict[str, Any] | None = None, *, store: str | Path | None = None,
                 holdout: float | None = None, n_jobs: int | None = None, registry: Registry | None = None) -> None:
        self.schema = schema
        self.store = store
        self.holdout = holdout
        self.n_jobs = n_jobs
        self.registry = registry

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing number (NaN) is imputed, as an empty cell is in a data file
        tags.target_tags.multi_output = True  # a 2-d indicator `y` is one multilabel group
        tags.target_tags.single_output = True
        tags.classifier_tags.multi_label = True
        return tags

    # --- fitting -------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> ComposedClassifier:  # noqa: N803 - scikit-learn's name
        """Train every group and return self.

        With a schema, `X` holds the inputs and `y` the group columns (a DataFrame, or one column
        for the first group), or `y` is None when `X` holds them too. Without one, `X` is an array
        or a DataFrame of inputs and `y` the targets, as for any scikit-learn classifier.
        """
        for name in ("schema_", "model_", "groups_", "classes_", "inferred_", "input_names_",
                     "n_features_in_", "feature_names_in_"):
            self.__dict__.pop(name, None)  # a refit forgets the previous fit
        if self.schema is None:
            frame, schema = self._infer(X, y)
        else:
            schema = self._given_schema()
            if schema.hierarchies:
                raise DataError(f"ComposedClassifier does not take hierarchy groups yet "
                                f"({sorted(schema.hierarchies)}); train them with compose.train and predict with "
                                "ComposedModel.predict")
            frame = _with_targets(as_frame(X), y, schema)
        self.model_: ComposedModel = self._train(schema, frame)
        self.schema_: Schema = schema
        self.groups_: list[str] = self.model_.groups
        if self.schema is None:
            return self
        self.classes_: Any = [np.array(self.model_.heads_[g].labels, dtype=object) for g in self.groups_]
        return self

    def _given_schema(self) -> Schema:
        if isinstance(self.schema, Schema):
            schema = self.schema
        elif isinstance(self.schema, dict):
            schema = schema_from_dict(self.schema, registry=self.registry)
        elif self.schema is not None:
            schema = load_schema(self.schema, registry=self.registry)
        else:
            raise DataError("no schema to read; ComposedClassifier() without one infers it in fit")
        return _with_holdout(schema, self.holdout)

    def _train(self, schema: Schema, frame: pd.DataFrame) -> ComposedModel:
        root = Path(self.store) if self.store is not None else Path(tempfile.mkdtemp(prefix="compose-"))
        try:
            fit_and_release(schema, frame, root, n_jobs=self.n_jobs, note="ComposedClassifier.fit",
                            registry=self.registry, samples=False)
            return load(root / schema.name, registry=self.registry)
        finally:
            if self.store is None:
                shutil.rmtree(root, ignore_errors=True)

    def _infer(self, X: Any, y: Any) -> tuple[pd.DataFrame, Schema]:  # noqa: N803
        """The training frame and the schema inferred from (X, y); sets classes_ and the input names."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None; pass the "
                             "labels, or a schema whose group columns are in X")
        inputs = self._inputs(X, reset=True)
        target, kind = _check_target(y)
        if len(target) != len(inputs):
            raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(inputs)}, "
                             f"{len(target)}]")
        kinds = {c: _input_kind(inputs[c]) for c in inputs.columns}
        group = next(n for n in ("y", "target", "y_") if n not in kinds)
        if kind == "multilabel":
            self.classes_ = np.arange(target.shape[1])
            labels = [str(c) for c in self.classes_]
            cells = ["|".join(labels[j] for j in np.flatnonzero(row)) or "[]" for row in target]
        else:
            self.classes_ = np.unique(target)
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in y to fit a "
                                 f"classifier; got one class only: {self.classes_.tolist()}")
            labels = [str(c) for c in self.classes_]
            if len(set(labels)) < len(labels) or "" in labels:
                raise ValueError(f"the classes of y {self.classes_.tolist()} do not give distinct, non-empty "
                                 "labels as text; give every class a distinct name")
            index = {c: i for i, c in enumerate(self.classes_.tolist())}
            cells = [labels[index[c]] for c in target.tolist()]
        self.inferred_ = InferredTarget(group, kind, labels, target.dtype)
        frame = inputs.assign(**{group: cells})
        holdout = self.holdout if self.holdout is not None else 0.0
        return frame, _with_holdout(_inferred_schema(kinds, group, kind, labels, self.registry), holdout)

    def _inputs(self, X: Any, *, reset: bool) -> pd.DataFrame:  # noqa: N803
        """X validated as scikit-learn validates it (shape, finiteness, feature names), as a frame of inputs."""
        numeric = not isinstance(X, pd.DataFrame) or all(pd.api.types.is_numeric_dtype(t) for t in X.dtypes)
        checked = validate_data(self, X, reset=reset, accept_sparse=False, dtype="numeric" if numeric else None,
                                ensure_all_finite="allow-nan" if numeric else False)
        if isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            names = [str(c) for c in self.feature_names_in_]
        else:
            names = [f"x{i}" for i in range(checked.shape[1])]
        if reset:
            self.input_names_ = names
        if isinstance(X, pd.DataFrame) and not numeric:
            frame = X.copy()
            frame.columns = self.input_names_
            return frame.reset_index(drop=True)
        return pd.DataFrame(np.asarray(checked, dtype=np.float64), columns=self.input_names_)

    # --- predicting ----------------------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "model_")
        if self.schema is None:
            info = self.inferred_
            scores = self.model_.predict_scores(self._inputs(X, reset=False))[info.group]
            chosen = decide(self.schema_.groups[info.group], info.labels, scores).chosen
            if info.kind == "multilabel":
                return np.asarray(chosen, dtype=info.dtype)
            return np.asarray(self.classes_[np.asarray(chosen, dtype=np.int64)])
        frame = self.model_.predict_frame(X)[self.groups_].astype(object)
        return frame.where(frame.notna(), None).to_numpy(dtype=object)  # categorical NaN -> None

    def predict_proba(self, X: Any) -> Any:  # noqa: N803
        check_is_fitted(self, "model_")
        if self.schema is None:
            scores = self.model_.predict_scores(self._inputs(X, reset=False))[self.inferred_.group]
            return np.asarray(scores, dtype=np.float64)
        scores_by_group = self.model_.predict_scores(X)
        return [scores_by_group[g] for g in self.groups_]

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:  # noqa: N803
        """Mean accuracy. With a schema: over every labelled (row, group) cell (a multilabel cell counts
        when its set is exact), `y` given as `fit` takes it; inferred: scikit-learn's accuracy."""
        check_is_fitted(self, "model_")
        if self.schema is None:
            return float(super().score(X, y, sample_weight=sample_weight))
        frame = _with_targets(as_frame(X), y, self.model_.schema)
        weights = np.ones(len(frame)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (len(frame),):
            raise ValueError(f"sample_weight has shape {weights.shape}; expected ({len(frame)},), one per row")
        targets = parse_targets(frame, self.model_.schema, self.groups_)
        predicted = self.predict(frame)
        right = total = 0.0
        for j, group in enumerate(self.groups_):
            t = targets.get(group)
            if t is None:
                continue
            for r in np.flatnonzero(t.labelled):
                if t.y.ndim == 2:
                    truth = "|".join(label for k, label in enumerate(t.labels) if t.y[r, k])
                else:
                    truth = t.labels[t.y[r]]
                right += weights[r] * float((predicted[r, j] or "") == truth)
                total += weights[r]
        if total == 0:
            raise DataError("score needs at least one labelled group cell in the data")
        return right / total


def _with_holdout(schema: Schema, holdout: float | None) -> Schema:
    if holdout is None:
        return schema
    return schema.model_copy(update={"training": TrainingSpec(holdout=holdout, seed=schema.training.seed)})


def _with_targets(frame: pd.DataFrame, y: Any, schema: Schema) -> pd.DataFrame:
    """The inputs with the group columns of `y` beside them: a DataFrame of group columns, one column
    (a Series, a 1-d array) for the first group, or None when the frame holds them already."""
    if y is None:
        return frame
    if isinstance(y, pd.DataFrame):
        labels = y
    elif isinstance(y, pd.Series) and y.name in schema.groups:
        labels = y.to_frame()
    else:
        values = np.asarray(y, dtype=object)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise DataError(f"y has shape {values.shape}; give a DataFrame with one column per group "
                            f"({list(schema.groups)}) or one column for the group {next(iter(schema.groups))!r}")
        labels = pd.DataFrame({next(iter(schema.groups)): values})
    if len(labels) != len(frame):
        raise DataError(f"X has {len(frame)} rows but y has {len(labels)}; give one label row per input row")
    return pd.concat([frame.reset_index(drop=True), labels.reset_index(drop=True)], axis=1)


def _check_target(y: Any) -> tuple[np.ndarray, str]:
    """`y` validated as scikit-learn's classifiers validate it, and its kind: binary, multiclass or multilabel."""
    target = y.to_numpy() if isinstance(y, pd.DataFrame | pd.Series) else np.asarray(y)
    target = check_array(target, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name="y",
                         ensure_min_samples=0)
    kind = type_of_target(target, input_name="y")
    check_classification_targets(target)
    if kind == "multilabel-indicator":
        return np.asarray(target), "multilabel"
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"Unknown label type: {kind}; y must be one label per row (binary or multiclass) or a "
                         "2-d 0/1 indicator (multilabel)")
    if target.ndim == 2:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape of y "
                      "to (n_samples, ), for example using ravel().", DataConversionWarning, stacklevel=3)
        target = target[:, 0]
    return np.asarray(target), "multiclass" if kind == "multiclass" else "binary"


def _input_kind(column: pd.Series) -> str:
    if pd.api.types.is_numeric_dtype(column.dtype):
        return "number"
    words = [len(str(v).split()) for v in column.dropna()]
    return "text" if words and sum(words) / len(words) > TEXT_WORDS else "category"


def _inferred_schema(kinds: dict[str, str], group: str, kind: str, labels: list[str],
                     registry: Registry | None) -> Schema:
    tabular = [c for c, k in kinds.items() if k != "text"]
    text = [c for c, k in kinds.items() if k == "text"]
    features: dict[str, Any] = {}
    if tabular:
        features["columns"] = {"type": "tabular", "inputs": tabular}
    if text:
        features["words"] = {"type": "tfidf", "inputs": text}
    data = {"schema_version": 1, "name": "composed-classifier",
            "inputs": {c: {"type": k} for c, k in kinds.items()},
            "features": features, "groups": {group: {"type": kind, "labels": labels}}}
    return schema_from_dict(data, source="<inferred by ComposedClassifier>", registry=registry)
