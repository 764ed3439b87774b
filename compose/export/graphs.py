"""ONNX graphs of compose's components: an allow-list, the patches that make them exact, clear refusals.

Each fitted featurizer becomes one graph (its inputs -> a dense double or float matrix) and each
estimator of a head one graph (the head's stacked features -> probabilities). What the converter
gets wrong is patched here, what cannot be patched is refused with an `ExportError` that names the
component and why; the export's parity check on stored holdout rows is the final judge.

Measured with skl2onnx 1.20 / onnxruntime 1.32 (see the README's ONNX section):

- TF-IDF: skl2onnx silently replaces the default token pattern by an ASCII one, so the pattern is
  passed explicitly (`[\\pL\\pN_]{2,}`, the Unicode letters and digits scikit-learn's `\\w\\w+`
  matches); lowercasing needs a locale that exists (`C.UTF-8`); `sublinear_tf` is computed as
  log(1+tf) instead of 1+log(tf), so those nodes are replaced (`_patch_sublinear`).
- Tabular features (SimpleImputer, StandardScaler, OneHotEncoder in a ColumnTransformer): the ONNX
  Imputer has no double kernel in onnxruntime, so the graph is written here from the fitted
  statistics, in double precision.
- Random forests and extra trees compare float32 inputs with thresholds adjusted for float32, as
  scikit-learn does, so their graph is fed float32.
- Refused: HistGradientBoosting (the converter crashes with onnx >= 1.19 and is silently wrong with
  native categoricals), isotonic calibration (0.12 off), `strip_accents`, `char`/`char_wb`
  analyzers, custom tokenizers, preprocessors, stop words and token patterns, and anything not on
  the allow-list.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from compose.errors import ExportError

#: Opsets of every graph: the default domain and the ai.onnx.ml domain (TreeEnsemble, LabelEncoder).
OPSET = {"": 18, "ai.onnx.ml": 3}
#: The token pattern given to the ONNX tokenizer for scikit-learn's default `(?u)\b\w\w+\b`.
UNICODE_WORDS = r"[\pL\pN_]{2,}"
DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
INSTALL_HINT = "pip install 'compose-groups[onnx]'"


def require_onnx() -> None:
    """Raise an ImportError with the install hint when onnx, skl2onnx or onnxruntime is missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import skl2onnx  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"ONNX export needs onnx, skl2onnx and onnxruntime: {INSTALL_HINT}") from exc


@dataclass
class FeatureGraph:
    """The ONNX graph of one featurizer and how the runner feeds it.

    `kind` is `text` (one string input: the feature's text columns joined as compose joins them)
    or `tabular` (one input per column: numbers as double, categories as strings, with a missing
    category given as `missing`).
    """

    name: str
    kind: str
    model: Any  # onnx.ModelProto
    inputs: list[dict[str, Any]]
    width: int


# --------------------------------------------------------------------------------------------------
# Features


def feature_graph(name: str, transformer: Any) -> FeatureGraph:
    """The graph of the fitted featurizer `name`, or an ExportError saying why it cannot be exported."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from compose.featurize.base import TextJoiner

    if isinstance(transformer, Pipeline) and len(transformer.steps) == 2 and isinstance(transformer[0], TextJoiner):
        return _text_graph(name, transformer[0], transformer[-1])
    if isinstance(transformer, ColumnTransformer):
        return _tabular_graph(name, transformer)
    raise ExportError(f"feature {name!r}: a {type(transformer).__name__} featurizer has no ONNX export; "
                      "exportable: tfidf (word analyzer) and tabular features")


def _text_graph(name: str, joiner: Any, vectorizer: Any) -> FeatureGraph:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import TfidfVectorizer

    what = f"feature {name!r} (tfidf)"
    if type(vectorizer) is not TfidfVectorizer:
        raise ExportError(f"{what}: {type(vectorizer).__name__} is not on the ONNX allow-list")
    unsupported = {
        "analyzer": (vectorizer.analyzer != "word", "only the word analyzer converts (char and char_wb do not)"),
        "strip_accents": (vectorizer.strip_accents is not None, "the ONNX string normalizer cannot strip accents"),
        "tokenizer": (vectorizer.tokenizer is not None, "a custom tokenizer cannot be converted"),
        "preprocessor": (vectorizer.preprocessor is not None, "a custom preprocessor cannot be converted"),
        "stop_words": (vectorizer.stop_words is not None, "the ONNX normalizer drops whole documents, not words"),
        "token_pattern": (vectorizer.token_pattern != DEFAULT_TOKEN_PATTERN,
                          "only the default pattern has a known ONNX equivalent"),
        "binary": (bool(vectorizer.binary), "binary counts are not converted"),
    }
    for param, (bad, why) in unsupported.items():
        if bad:
            raise ExportError(f"{what}: {param}={getattr(vectorizer, param)!r} has no exact ONNX export ({why}); "
                              f"drop the parameter or keep this model in compose")
    # skl2onnx walks every dict attribute looking for sub-models (seconds for a large vocabulary): a
    # read-only view of the same vocabulary is not a dict, and the converter only reads it.
    view = copy.copy(vectorizer)
    view.vocabulary_ = MappingProxyType(vectorizer.vocabulary_)
    options = {id(view): {"tokenexp": UNICODE_WORDS, "locale": "C.UTF-8"}}
    try:
        model = convert_sklearn(view, initial_types=[("text", StringTensorType([None, 1]))],
                                options=options, target_opset=OPSET)
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as exc:
        raise ExportError(f"{what}: skl2onnx cannot convert it ({exc})") from exc
    if vectorizer.sublinear_tf:
        _patch_sublinear(model, what)
    return FeatureGraph(name, "text", model, [{"columns": list(joiner.columns)}], len(vectorizer.vocabulary_))


def _patch_sublinear(model: Any, what: str) -> None:
    """Replace skl2onnx's log(1 + tf) by scikit-learn's 1 + log(tf) where tf > 0 (0 elsewhere)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    nodes = list(graph.node)
    at = [i for i, n in enumerate(nodes[:-1]) if n.op_type == "Add" and nodes[i + 1].op_type == "Log"
          and nodes[i + 1].input[0] == n.output[0]]
    if len(at) != 1:
        raise ExportError(f"{what}: sublinear_tf is computed wrongly by this skl2onnx version and its graph has "
                          "no Add -> Log pair to patch; set sublinear_tf: false or keep this model in compose")
    i = at[0]
    add, log = nodes[i], nodes[i + 1]
    tf, out = add.input[0], log.output[0]
    graph.initializer.extend([numpy_helper.from_array(np.array([0], dtype=np.float32), "sublinear_zero"),
                              numpy_helper.from_array(np.array([1], dtype=np.float32), "sublinear_one")])
    patch = [helper.make_node("Greater", [tf, "sublinear_zero"], ["sublinear_positive"]),
             helper.make_node("Log", [tf], ["sublinear_log"]),
             helper.make_node("Add", ["sublinear_log", "sublinear_one"], ["sublinear_value"]),
             helper.make_node("Where", ["sublinear_positive", "sublinear_value", "sublinear_zero"], [out])]
    del graph.node[:]
    graph.node.extend([*nodes[:i], *patch, *nodes[i + 2:]])
    used = {name for n in graph.node for name in n.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


class _Graph:
    """The nodes, constants, inputs and runner feeds of a graph written by hand."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.inputs: list[Any] = []
        self.feeds: list[dict[str, Any]] = []

    def const(self, key: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(value, key))
        return key

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def input(self, name: str, dtype: int) -> str:
        from onnx import helper

        self.inputs.append(helper.make_tensor_value_info(name, dtype, [None, 1]))
        return name


def _tabular_graph(name: str, transformer: Any) -> FeatureGraph:
    """A ColumnTransformer of compose's tabular feature, written as ONNX nodes from its fitted statistics."""
    from onnx import TensorProto, helper
    from sklearn.pipeline import Pipeline

    what = f"feature {name!r} (tabular)"
    g = _Graph()
    parts: list[str] = []
    for part, pipe, columns in transformer.transformers_:
        if part == "remainder" or pipe == "drop":
            continue
        steps = list(pipe.named_steps.values()) if isinstance(pipe, Pipeline) else [pipe]
        if part == "numbers":
            parts.append(_numbers(what, g, steps, list(columns)))
        elif part == "categories":
            parts.extend(_categories(what, g, steps, list(columns)))
        else:
            raise ExportError(f"{what}: the column group {part!r} is not one compose's tabular feature builds")
    if not parts:
        raise ExportError(f"{what}: the feature reads no columns")
    if len(parts) > 1:
        g.node("Concat", parts, "features", axis=1)
    else:
        g.node("Identity", parts, "features")
    output = helper.make_tensor_value_info("features", TensorProto.DOUBLE, [None, None])
    graph = helper.make_graph(g.nodes, f"compose_feature_{name}", g.inputs, [output], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in OPSET.items()],
                              producer_name="compose")
    return FeatureGraph(name, "tabular", model, g.feeds, -1)  # the width is measured by the caller


def _numbers(what: str, g: _Graph, steps: list[Any], columns: list[str]) -> str:
    """Median imputation, missing indicators and scaling, in double precision, as scikit-learn computes them."""
    from onnx import TensorProto
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    imputer, *rest = steps
    scaler = rest[0] if rest else None
    if type(imputer) is not SimpleImputer or (scaler is not None and type(scaler) is not StandardScaler) \
            or len(rest) > 1:
        raise ExportError(f"{what}: the number steps {[type(s).__name__ for s in steps]} are not on the ONNX "
                          "allow-list (SimpleImputer, then StandardScaler)")
    names = []
    for c in columns:
        names.append(g.input(f"in_{c}", TensorProto.DOUBLE))
        g.feeds.append({"column": c, "name": f"in_{c}", "type": "number"})
    x = g.node("Concat", names, "num_x", axis=1)
    nan = g.node("IsNaN", [x], "num_nan")
    stats = np.asarray(imputer.statistics_, dtype=np.float64)
    if np.isnan(stats).any():
        raise ExportError(f"{what}: an imputer statistic is NaN; refit the feature")
    current = g.node("Where", [nan, g.const("num_fill", stats[None, :]), x], "num_imputed")
    indicator = getattr(imputer, "indicator_", None)
    if indicator is not None and len(indicator.features_):
        cols = g.const("num_missing_cols", np.asarray(indicator.features_, dtype=np.int64))
        flags = g.node("Cast", [g.node("Gather", [nan, cols], "num_ind_b", axis=1)], "num_ind", to=TensorProto.DOUBLE)
        current = g.node("Concat", [current, flags], "num_with_ind", axis=1)
    if scaler is not None:
        mean = scaler.mean_ if scaler.with_mean else np.zeros_like(scaler.scale_)
        scale = scaler.scale_ if scaler.with_std else np.ones_like(mean)
        current = g.node("Sub", [current, g.const("num_mean", np.asarray(mean, dtype=np.float64)[None, :])],
                         "num_centred")
        current = g.node("Div", [current, g.const("num_scale", np.asarray(scale, dtype=np.float64)[None, :])],
                         "num_scaled")
    return current


def _categories(what: str, g: _Graph, steps: list[Any], columns: list[str]) -> list[str]:
    """One-hot blocks read from the fitted encoder: a category's index (unknown last), then its row of the block."""
    from onnx import TensorProto
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    if len(steps) != 2 or type(steps[0]) is not SimpleImputer or type(steps[1]) is not OneHotEncoder:
        raise ExportError(f"{what}: the category steps {[type(s).__name__ for s in steps]} are not on the "
                          "ONNX allow-list (SimpleImputer, then OneHotEncoder)")
    imputer, encoder = steps
    if encoder.drop is not None:
        raise ExportError(f"{what}: OneHotEncoder(drop={encoder.drop!r}) is not on the ONNX allow-list")
    outputs = []
    for j, (c, block) in enumerate(zip(columns, _one_hot_blocks(encoder, columns), strict=True)):
        s = g.input(f"in_{c}", TensorProto.STRING)
        g.feeds.append({"column": c, "name": s, "type": "category", "missing": str(imputer.fill_value)})
        known = [str(v) for v in encoder.categories_[j]]
        flat = g.node("Reshape", [s, g.const(f"cat{j}_flat", np.array([-1], dtype=np.int64))], f"cat{j}_s")
        index = g.node("LabelEncoder", [flat], f"cat{j}_i", domain="ai.onnx.ml", keys_strings=known,
                       values_int64s=list(range(len(known))), default_int64=len(known))
        outputs.append(g.node("Gather", [g.const(f"cat{j}_rows", block), index], f"cat{j}_out", axis=0))
    return outputs


_UNKNOWN = "\x00compose: a category never seen\x00"


def _one_hot_blocks(encoder: Any, columns: list[str]) -> list[np.ndarray]:
    """Per column, the encoder's output block for each known category and, last, for an unknown one.

    Read from the fitted encoder itself (its transform of each category, the other columns held at
    their first category), so infrequent-category grouping and unknown handling are exactly its own.
    """
    widths = []
    infrequent = getattr(encoder, "infrequent_categories_", [None] * len(columns))
    for cats, rare in zip(encoder.categories_, infrequent, strict=True):
        n_rare = 0 if rare is None else len(rare)
        widths.append(len(cats) - n_rare + (1 if n_rare else 0))
    offsets = np.concatenate([[0], np.cumsum(widths)])
    blocks = []
    for j, cats in enumerate(encoder.categories_):
        values = [*(str(c) for c in cats), _UNKNOWN]
        frame = pd.DataFrame({c: [str(encoder.categories_[k][0])] * len(values) for k, c in enumerate(columns)})
        frame[columns[j]] = values
        out = encoder.transform(frame.to_numpy(dtype=object))
        out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
        blocks.append(np.ascontiguousarray(out[:, offsets[j]:offsets[j + 1]], dtype=np.float64))
    return blocks


# --------------------------------------------------------------------------------------------------
# Heads


#: Estimators exported as they are (their graph reads the head's features in double precision).
_LINEAR = ("LogisticRegression", "SGDClassifier", "MultinomialNB", "ComplementNB")
#: Estimators whose graph reads float32, as scikit-learn's trees do.
_TREES = ("RandomForestClassifier", "ExtraTreesClassifier")
#: Wrapped in sigmoid calibration by compose when they have no predict_proba.
_CALIBRATED_BASES = ("LogisticRegression", "SGDClassifier", "LinearSVC", "RidgeClassifier")
_REFUSED = {
    "HistGradientBoostingClassifier": "its skl2onnx converter crashes with onnx >= 1.19 (a boolean attribute) and "
                                      "is silently wrong with native categorical features",
    "KNeighborsClassifier": "skl2onnx cannot convert neighbours fitted on sparse TF-IDF rows",
}


def estimator_graph(what: str, est: Any, width: int) -> tuple[Any, str]:
    """The graph of one fitted estimator (features -> probabilities) and its input dtype (`double` or `float`)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    kind = type(est).__name__
    if kind in _REFUSED:
        raise ExportError(f"{what}: {kind} has no exact ONNX export: {_REFUSED[kind]}; choose another estimator "
                          "for this group or keep it in compose")
    if kind == "CalibratedClassifierCV":
        if est.method != "sigmoid":
            raise ExportError(f"{what}: calibration {est.method!r} has no exact ONNX export (isotonic differs by "
                              "up to 0.12); use calibration: sigmoid or none")
        bases = {type(c.estimator).__name__ for c in est.calibrated_classifiers_}
        bad = sorted(bases - set(_CALIBRATED_BASES))
        if bad:
            raise ExportError(f"{what}: a calibrated {bad[0]} is not on the ONNX allow-list")
        dtype = "double"
    elif kind in _LINEAR:
        if kind == "SGDClassifier" and est.loss not in ("log_loss", "modified_huber"):
            raise ExportError(f"{what}: SGDClassifier(loss={est.loss!r}) has no probabilities to export")
        dtype = "double"
    elif kind in _TREES:
        dtype = "float"
    else:
        allowed = sorted({*_LINEAR, *_TREES, "CalibratedClassifierCV(sigmoid)"})
        raise ExportError(f"{what}: {kind} is not on the ONNX allow-list {allowed}")
    if not hasattr(est, "predict_proba"):
        raise ExportError(f"{what}: {kind} has no predict_proba (too few rows to calibrate it); it cannot be exported")
    tensor = DoubleTensorType if dtype == "double" else FloatTensorType
    try:
        model = convert_sklearn(est, initial_types=[("X", tensor([None, width]))], target_opset=OPSET,
                                options={id(est): {"zipmap": False}})
    except Exception as exc:  # skl2onnx raises anything; the message names the component
        raise ExportError(f"{what}: skl2onnx cannot convert {kind} ({type(exc).__name__}: {exc})") from exc
    return model, dtype


def stack_estimators(models: list[Any]) -> tuple[Any, list[str]]:
    """One graph of a whole head: every estimator's graph side by side on the same input `X`.

    A multilabel group has one estimator per label; one graph per group runs them in one call to
    onnxruntime instead of one call per label. Returns the graph and each estimator's output name.
    """
    from onnx import compose as onnx_compose
    from onnx import helper

    nodes: list[Any] = []
    inits: list[Any] = []
    outputs: list[Any] = []
    opsets: dict[str, int] = {}
    for j, model in enumerate(models):
        prefixed = onnx_compose.add_prefix(model, prefix=f"e{j}_")
        graph = prefixed.graph
        nodes.append(helper.make_node("Identity", ["X"], [graph.input[0].name]))
        nodes.extend(graph.node)
        inits.extend(graph.initializer)
        outputs.append(graph.output[1])  # [label, probabilities] with zipmap off
        for op in model.opset_import:
            opsets[op.domain] = max(opsets.get(op.domain, 0), op.version)
    graph = helper.make_graph(nodes, "compose_head", [models[0].graph.input[0]], outputs, inits)
    stacked = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())],
                                producer_name="compose", ir_version=models[0].ir_version)
    return stacked, [o.name for o in outputs]
