"""Short estimator names, dotted-path resolution and parameter checks for group heads."""

from __future__ import annotations

import importlib
from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin

#: The short names a schema may use in `model.estimator`, with the defaults compose adds.
ESTIMATORS: dict[str, tuple[str, dict[str, Any]]] = {
    "logistic_regression": ("sklearn.linear_model.LogisticRegression", {"max_iter": 2000}),
    "linear_svc": ("sklearn.svm.LinearSVC", {}),
    "sgd": ("sklearn.linear_model.SGDClassifier", {"loss": "log_loss", "random_state": 0}),
    "ridge": ("sklearn.linear_model.RidgeClassifier", {}),
    "random_forest": ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 200, "random_state": 0}),
    "extra_trees": ("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 200, "random_state": 0}),
    "hist_gradient_boosting": ("sklearn.ensemble.HistGradientBoostingClassifier", {"random_state": 0}),
    "complement_nb": ("sklearn.naive_bayes.ComplementNB", {}),
    "multinomial_nb": ("sklearn.naive_bayes.MultinomialNB", {}),
    "knn": ("sklearn.neighbors.KNeighborsClassifier", {}),
}


def resolve_estimator(name: str) -> tuple[type[Any], dict[str, Any]]:
    """The class and default parameters for a short name or a dotted path.

    Raises ValueError with a readable reason when the name cannot be used as a classifier.
    """
    if name in ESTIMATORS:
        path, defaults = ESTIMATORS[name]
    elif "." in name:
        path, defaults = name, {}
    else:
        raise ValueError(
            f"unknown estimator {name!r}; use one of {sorted(ESTIMATORS)} "
            "or a dotted path such as 'sklearn.linear_model.LogisticRegression'"
        )
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} for estimator {name!r}: {exc}") from exc
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ValueError(f"module {module_name!r} has no class {attr!r}")
    if not (issubclass(cls, BaseEstimator) and issubclass(cls, ClassifierMixin)):
        raise ValueError(f"{path!r} is not a scikit-learn classifier (it must subclass ClassifierMixin)")
    return cls, dict(defaults)


def estimator_params(cls: type[Any]) -> list[str]:
    """The constructor parameters a scikit-learn estimator class accepts."""
    return sorted(cls._get_param_names())


def build_estimator(name: str, params: dict[str, Any]) -> Any:
    """A new, unfitted estimator: compose's defaults overridden by the schema's params."""
    cls, defaults = resolve_estimator(name)
    merged = {**defaults, **params}
    for key, value in list(merged.items()):
        if isinstance(value, list):
            merged[key] = tuple(value)
    return cls(**merged)
