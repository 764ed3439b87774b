"""The registry: which featurizers, input kinds and estimators a schema may name, and where they live.

A `Registry` is an object passed explicitly (`registry=` on `load_schema`, `train`, `load`, ...);
`default_registry()` builds a new one holding compose's built-ins. Nothing is registered by
importing a module, so two registries in one process never see each other's entries.

Entries are dotted strings, imported on first use, fsspec style:
`{"tfidf": {"class": "compose.featurize.text.TfidfFeaturizer", "err": "..."}}`. Built-ins come
first; third-party packages add entries through the entry-point groups `compose.featurizers` and
`compose.estimators` (read as strings, without importing the package, the first time a name is
not found or every name is listed). A target that cannot be imported raises `PluginError` with
the entry's install hint, chained `from` the ImportError.

This module sits below `compose.schema` in the layers and imports no scikit-learn at import time.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from compose._text import did_you_mean
from compose.errors import PluginError, RegistryError

Kind = Literal["featurizers", "estimators"]

#: The entry-point group of each kind of entry a third-party package may add.
ENTRY_POINT_GROUPS: dict[Kind, str] = {"featurizers": "compose.featurizers", "estimators": "compose.estimators"}

#: The distribution that ships the built-ins (recorded in the meta.json of what they make).
BUILTIN_DISTRIBUTION = "compose-groups"

BUILTIN_FEATURIZERS: dict[str, dict[str, str]] = {
    "tfidf": {"class": "compose.featurize.text.TfidfFeaturizer"},
    "tabular": {"class": "compose.featurize.tabular.TabularFeaturizer"},
    "embedding": {"class": "compose.featurize.embedding.EmbeddingFeaturizer",
                  "err": "pip install 'compose-groups[embed]'"},
    "color_histogram": {"class": "compose.featurize.image.ColorHistogramFeaturizer",
                        "err": "pip install 'compose-groups[image]'"},
    "hog": {"class": "compose.featurize.image.HogFeaturizer", "err": "pip install 'compose-groups[image]'"},
    "onnx_embedding": {"class": "compose.featurize.image.OnnxEmbeddingFeaturizer",
                       "err": "pip install 'compose-groups[image,onnx]'"},
}

#: The short names a schema may use in `model.estimator`, with the defaults compose adds.
BUILTIN_ESTIMATORS: dict[str, dict[str, Any]] = {
    "logistic_regression": {"class": "sklearn.linear_model.LogisticRegression", "defaults": {"max_iter": 2000}},
    "linear_svc": {"class": "sklearn.svm.LinearSVC"},
    "sgd": {"class": "sklearn.linear_model.SGDClassifier", "defaults": {"loss": "log_loss", "random_state": 0}},
    "ridge": {"class": "sklearn.linear_model.RidgeClassifier"},
    "random_forest": {"class": "sklearn.ensemble.RandomForestClassifier",
                      "defaults": {"n_estimators": 200, "random_state": 0}},
    "extra_trees": {"class": "sklearn.ensemble.ExtraTreesClassifier",
                    "defaults": {"n_estimators": 200, "random_state": 0}},
    "hist_gradient_boosting": {"class": "sklearn.ensemble.HistGradientBoostingClassifier",
                               "defaults": {"random_state": 0}},
    "complement_nb": {"class": "sklearn.naive_bayes.ComplementNB"},
    "multinomial_nb": {"class": "sklearn.naive_bayes.MultinomialNB"},
    "knn": {"class": "sklearn.neighbors.KNeighborsClassifier"},
}

#: `model: auto` searches these (compose.heads.auto holds their grids); `candidates` picks among them.
AUTO = "auto"
AUTO_CANDIDATES = ("logistic_regression", "complement_nb", "linear_svc", "hist_gradient_boosting", "random_forest")


#: A dotted estimator path that is not a registered name is imported only under these prefixes and
#: those of a schema's `trusted_modules`: importing a module runs its code.
SAFE_PREFIXES = ("sklearn.",)


def check_dotted_path(name: str, trusted: Sequence[str] = ()) -> None:
    """Refuse a dotted estimator path outside `sklearn.` and the `trusted` prefixes, WITHOUT importing it.

    A prefix is a module boundary: `mylib` allows `mylib.models.X`, not `mylib_evil.X`.
    """
    allowed = (*SAFE_PREFIXES, *(f"{m.rstrip('.')}." for m in trusted))
    if not name.startswith(allowed):
        raise RegistryError(
            f"estimator {name!r} is outside the trusted modules {list(allowed)}: compose imports a dotted path "
            "only under 'sklearn.' or a module listed in the schema's `trusted_modules`, because importing a "
            f"module runs its code. Add {name.rpartition('.')[0]!r} to trusted_modules only if you trust it")


@dataclass(frozen=True)
class InputKind:
    """A kind of input column (`inputs.<name>.type`). Cells of a `numeric` kind are read as floats,
    the others as text (a path, a URL or a sentence: the featurizer that reads it decides)."""

    name: str
    numeric: bool = False
    description: str = ""


BUILTIN_INPUT_KINDS: tuple[InputKind, ...] = (
    InputKind("text", description="free text, read by text featurizers such as tfidf"),
    InputKind("number", numeric=True, description="a finite number; an empty cell is missing"),
    InputKind("category", description="one value of a small set, one-hot encoded by tabular"),
    InputKind("image", description="an image file path (relative to the data file) or image bytes"),
)


@runtime_checkable
class FeaturizerInfo(Protocol):
    """What schema validation asks of a featurizer (the full protocol: `compose.featurize.base.Featurizer`).

    `accepts` names the input kinds it reads; `param_names()` the `params` keys it takes (None: any).
    """

    accepts: frozenset[str]

    def param_names(self) -> Collection[str] | None: ...


@dataclass(frozen=True)
class Plugin:
    """Where an entry comes from, as recorded in the meta.json of each artifact it made."""

    name: str
    module: str
    distribution: str
    version: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "module": self.module, "distribution": self.distribution,
                "version": self.version}

    def install_hint(self) -> str:
        """What to run so that this plugin can be imported again."""
        if not self.distribution:
            return f"make module {self.module!r} importable (it belongs to no installed distribution)"
        wanted = f"{self.distribution}=={self.version}" if self.version else self.distribution
        return f"pip install '{wanted}'"


@dataclass
class _Entry:
    name: str
    target: str | object  # a dotted path ("pkg.mod.Class" or "pkg.mod:Class"), or the object itself
    err: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    distribution: str | None = None
    version: str | None = None
    loaded: object | None = None

    @property
    def module(self) -> str:
        if isinstance(self.target, str):
            return _split(self.target)[0]
        return str(getattr(self.target, "__module__", ""))


def _split(path: str) -> tuple[str, str]:
    if ":" in path:
        module, _, attr = path.partition(":")
    else:
        module, _, attr = path.rpartition(".")
    return module, attr


def _version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


class Registry:
    """Featurizers, estimators and input kinds by name; see the module docstring.

    `Registry()` is empty unless `builtins`; `entry_points` reads the `compose.featurizers` and
    `compose.estimators` groups of installed distributions (lazily, on the first miss or listing).
    """

    def __init__(self, *, builtins: bool = True, entry_points: bool = True) -> None:
        self._entries: dict[Kind, dict[str, _Entry]] = {"featurizers": {}, "estimators": {}}
        self._input_kinds: dict[str, InputKind] = {}
        self._read_entry_points = entry_points
        self._scanned = False
        if builtins:
            version = _own_version()
            for name, spec in BUILTIN_FEATURIZERS.items():
                self._entries["featurizers"][name] = _Entry(name, spec["class"], spec.get("err"),
                                                            distribution=BUILTIN_DISTRIBUTION, version=version)
            for name, est in BUILTIN_ESTIMATORS.items():
                self._entries["estimators"][name] = _Entry(name, est["class"], est.get("err"),
                                                           dict(est.get("defaults", {})),
                                                           distribution=BUILTIN_DISTRIBUTION, version=version)
            for kind in BUILTIN_INPUT_KINDS:
                self._input_kinds[kind.name] = kind

    def __repr__(self) -> str:
        return (f"Registry(featurizers={self.names('featurizers')}, estimators={len(self.names('estimators'))}, "
                f"input_kinds={self.input_kinds()})")

    # --- adding ----------------------------------------------------------------------------------

    def add_featurizer(self, name: str, target: str | type[Any], *, err: str | None = None,
                       distribution: str | None = None, replace: bool = False) -> None:
        """Register a featurizer class (or its dotted path) under `name` on this registry only."""
        self._add("featurizers", _Entry(name, target, err, distribution=distribution,
                                        version=_version_of(distribution) if distribution else None), replace)

    def add_estimator(self, name: str, target: str | type[Any], *, defaults: Mapping[str, Any] | None = None,
                      err: str | None = None, distribution: str | None = None, replace: bool = False) -> None:
        """Register a classifier class (or its dotted path) and its default parameters under `name`."""
        self._add("estimators", _Entry(name, target, err, dict(defaults or {}), distribution=distribution,
                                       version=_version_of(distribution) if distribution else None), replace)

    def add_input_kind(self, kind: InputKind | str, *, replace: bool = False) -> None:
        """Allow a new `inputs.<name>.type` (read as text unless `numeric`)."""
        entry = InputKind(kind) if isinstance(kind, str) else kind
        if entry.name in self._input_kinds and not replace:
            raise RegistryError(f"input kind {entry.name!r} is already registered; pass replace=True to replace it")
        self._input_kinds[entry.name] = entry

    def _add(self, kind: Kind, entry: _Entry, replace: bool) -> None:
        if entry.name in self._entries[kind] and not replace:
            raise RegistryError(f"{kind[:-1]} {entry.name!r} is already registered (from "
                                f"{self._entries[kind][entry.name].module}); pass replace=True to replace it")
        self._entries[kind][entry.name] = entry

    # --- reading ---------------------------------------------------------------------------------

    def names(self, kind: Kind) -> list[str]:
        """Every registered name of `kind`, entry points included, sorted."""
        self._scan()
        return sorted(self._entries[kind])

    def input_kinds(self) -> list[str]:
        """The input kinds a schema may declare, built-ins first, in the order they were added."""
        return list(self._input_kinds)

    def input_kind(self, name: str) -> InputKind:
        if name not in self._input_kinds:
            raise RegistryError(f"unknown input type {name!r}.{did_you_mean(name, self.input_kinds())} "
                                f"Allowed: {self.input_kinds()}.")
        return self._input_kinds[name]

    def has(self, kind: Kind, name: str) -> bool:
        if name not in self._entries[kind]:
            self._scan()
        return name in self._entries[kind]

    def featurizer(self, name: str) -> Any:
        """The featurizer registered as `name` (an instance of its class, made once per registry)."""
        entry = self._entry("featurizers", name)
        if entry.loaded is None:
            target = self._import(entry, "featurizer")
            entry.loaded = target() if isinstance(target, type) else target
        return entry.loaded

    def featurizer_info(self, name: str) -> FeaturizerInfo:
        """The featurizer as schema validation sees it: the input kinds it reads and its params."""
        found = self.featurizer(name)
        if not isinstance(found, FeaturizerInfo):
            raise PluginError(f"featurizer {name!r} ({self._entry('featurizers', name).module}) does not follow "
                              "compose's featurizer protocol (it needs `accepts` and `param_names()`); fix the "
                              "plugin or upgrade it")
        return found

    def is_dotted(self, name: str) -> bool:
        """Whether estimator `name` is a dotted path rather than a registered name."""
        return "." in name and not self.has("estimators", name)

    def estimator(self, name: str, *, trusted: Sequence[str] = ()) -> tuple[type[Any], dict[str, Any]]:
        """The class and default parameters for a registered short name or a dotted path.

        A dotted path is imported only under `sklearn.` or a `trusted` prefix (a schema's
        `trusted_modules`), checked before anything is imported. Raises RegistryError when the name
        is unknown, untrusted or not a scikit-learn classifier, and PluginError when its module
        cannot be imported.
        """
        if self.is_dotted(name):
            check_dotted_path(name, trusted)
            entry = _Entry(name, name, err=f"install the package that provides {name.rpartition('.')[0]!r}")
        else:
            entry = self._entry("estimators", name,
                                "or a dotted path such as 'sklearn.linear_model.LogisticRegression'")
        cls = self._import(entry, "estimator")
        from sklearn.base import BaseEstimator, ClassifierMixin

        if not isinstance(cls, type):
            raise RegistryError(f"estimator {name!r}: {entry.target!r} is not a class")
        if not (issubclass(cls, BaseEstimator) and issubclass(cls, ClassifierMixin)):
            raise RegistryError(f"estimator {name!r}: {entry.target!r} is not a scikit-learn classifier "
                                "(it must subclass ClassifierMixin)")
        return cls, dict(entry.defaults)

    def build_estimator(self, name: str, params: Mapping[str, Any], *, trusted: Sequence[str] = ()) -> Any:
        """A new, unfitted estimator: the entry's defaults overridden by the schema's params."""
        cls, defaults = self.estimator(name, trusted=trusted)
        merged = {**defaults, **params}
        for key, value in list(merged.items()):
            if isinstance(value, list):
                merged[key] = tuple(value)
        return cls(**merged)

    def plugin(self, kind: Kind, name: str) -> Plugin:
        """Where entry `name` comes from: recorded in meta.json, named when it is missing at load time."""
        if kind == "estimators" and not self.has(kind, name) and "." in name:
            module = _split(name)[0]
            distribution = _distribution_of(module)
            return Plugin(name, module, distribution, _version_of(distribution) if distribution else "")
        entry = self._entry(kind, name)
        if entry.distribution is None:  # looked up once: packages_distributions() reads every installed package
            entry.distribution = _distribution_of(entry.module)
        if entry.version is None:
            entry.version = _version_of(entry.distribution) if entry.distribution else ""
        return Plugin(name, entry.module, entry.distribution, entry.version)

    def _entry(self, kind: Kind, name: str, extra: str = "") -> _Entry:
        if not self.has(kind, name):
            known = self.names(kind)
            raise RegistryError(f"unknown {kind[:-1]} {name!r}.{did_you_mean(name, known)} Registered: {known}"
                                + (f" {extra}" if extra else "") + "; a package adds one through the "
                                f"{ENTRY_POINT_GROUPS[kind]!r} entry points, or `Registry.add_{kind[:-1]}`.")
        return self._entries[kind][name]

    def _import(self, entry: _Entry, what: str) -> object:
        if not isinstance(entry.target, str):
            return entry.target
        module_name, attr = _split(entry.target)
        hint = entry.err or (f"install it: pip install {entry.distribution}" if entry.distribution else
                             f"install the package that provides {module_name!r}")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing = exc.name if exc.name and not (module_name + ".").startswith(exc.name + ".") else None
            needs = f"module {module_name!r}" + (f" (which imports {missing!r})" if missing else "")
            raise PluginError(f"{what} {entry.name!r} needs {needs}, which cannot be imported ({exc}); {hint}") from exc
        try:
            return getattr(module, attr)
        except AttributeError as exc:
            raise PluginError(f"{what} {entry.name!r}: module {module_name!r} has no {attr!r}; {hint}") from exc

    def _scan(self) -> None:
        """Read the entry points once: built-ins and names added on this registry come first."""
        if self._scanned or not self._read_entry_points:
            return
        self._scanned = True
        for kind, group in ENTRY_POINT_GROUPS.items():
            for ep in importlib.metadata.entry_points(group=group):
                if ep.name in self._entries[kind]:
                    continue
                dist = getattr(ep, "dist", None)
                distribution = dist.metadata["Name"] if dist is not None else None
                version = dist.version if dist is not None else None
                err = f"install it: pip install {distribution}" if distribution else None
                self._entries[kind][ep.name] = _Entry(ep.name, ep.value, err, distribution=distribution,
                                                      version=version)


def _distribution_of(module: str) -> str:
    top = module.split(".", maxsplit=1)[0]
    if top == "compose":
        return BUILTIN_DISTRIBUTION
    names = importlib.metadata.packages_distributions().get(top, [])
    return names[0] if names else ""  # a module of no installed distribution (a script, a test)


def _own_version() -> str:
    from compose._version import __version__

    return __version__


def default_registry() -> Registry:
    """A new registry with compose's built-ins, reading third-party entry points lazily."""
    return Registry()


def resolve_estimator(name: str, registry: Registry | None = None, *,
                      trusted: Sequence[str] = ()) -> tuple[type[Any], dict[str, Any]]:
    """The class and default parameters of estimator `name` in `registry` (default: a new default one)."""
    return resolve(registry).estimator(name, trusted=trusted)


def estimator_params(cls: type[Any]) -> list[str]:
    """The constructor parameters a scikit-learn estimator class accepts."""
    return sorted(cls._get_param_names())


def resolve(registry: Registry | None) -> Registry:
    """`registry`, or a new default one when None (the `registry=None` default of every entry point)."""
    return registry if registry is not None else default_registry()


def parameter_problems(cls: type[Any], params: dict[str, Any]) -> dict[str, str]:
    """Every parameter value of `params` that `cls` rejects by scikit-learn's own constraints
    (`cls._parameter_constraints`), as {parameter: scikit-learn's sentence}. Unknown names and classes
    without constraints are not judged here. Lists are checked as the tuples they become."""
    constraints = getattr(cls, "_parameter_constraints", None)
    if not isinstance(constraints, dict):
        return {}
    from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

    out: dict[str, str] = {}
    for key, value in params.items():
        if key not in constraints:
            continue
        given = tuple(value) if isinstance(value, list) else value
        try:
            validate_parameter_constraints({key: constraints[key]}, {key: given}, caller_name=cls.__name__)
        except InvalidParameterError as exc:
            out[key] = str(exc)
        except Exception as exc:
            out[key] = f"the {key!r} parameter of {cls.__name__} cannot take {given!r} ({type(exc).__name__}: {exc})"
    return out
