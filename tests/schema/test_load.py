"""The schema: every problem reported at once, each with its key path and YAML line."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from compose.errors import SchemaError
from compose.schema.load import load_schema, parse_schema
from compose.schema.models import Schema

# Line numbers of VALID, used by the tests below (1-based):
#  1 schema_version   5 price      9 meta      13 labels    17 features
#  2 name             6 brand     10 groups    14 features
#  3 inputs           7 features  11 kind      15 sale
#  4 title            8 words     12 type      16 type
VALID = """\
schema_version: 1
name: shop
inputs:
  title: {type: text}
  price: {type: number}
  brand: {type: category}
features:
  words: {type: tfidf, inputs: [title]}
  meta: {type: tabular, inputs: [price, brand]}
groups:
  kind:
    type: multiclass
    labels: [shirt, pants, dress]
    features: [words]
  sale:
    type: binary
    features: [meta]
"""


def _edit(old: str, new: str, text: str = VALID) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _problems(text: str) -> list[str]:
    with pytest.raises(SchemaError) as info:
        parse_schema(text, source="x.yaml")
    return info.value.problems


def test_a_valid_schema_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert load_schema(path).groups["kind"].labels == ["shirt", "pants", "dress"]


def test_example_schemas_are_valid(penguins_schema_path: Path, movies_schema_path: Path) -> None:
    assert [load_schema(p).name for p in (penguins_schema_path, movies_schema_path)] == ["penguins", "movies"]


def test_every_problem_is_reported_at_once_with_key_path_and_line() -> None:
    text = _edit("inputs: [title]}", "inputs: [titel]}")
    text = _edit("    features: [words]\n", "    features: [wrds]\n", text)
    text = _edit("    type: binary\n", "    type: binary\n    colour: red\n", text)
    problems = _problems(text)
    assert len(problems) == 3
    assert problems[0].startswith("features.words.inputs.0 at x.yaml:8: unknown input 'titel'")
    assert problems[1].startswith("groups.kind.features.0 at x.yaml:14: unknown feature 'wrds'")
    assert problems[2].startswith("groups.sale.colour at x.yaml:17: unknown key 'colour'")


def test_the_message_counts_the_problems_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(_edit("features: [words]", "features: [wrds]"), encoding="utf-8")
    with pytest.raises(SchemaError, match=rf"^{path}: 1 problem in the schema:\n  "
                                          rf"groups\.kind\.features\.0 at {path}:14"):
        load_schema(path)


def test_a_misspelt_feature_gets_a_close_match_suggestion() -> None:
    text = _edit("features: [words]", "features: [wrds]")
    with pytest.raises(SchemaError, match=r"x\.yaml:14: unknown feature 'wrds'\. Did you mean 'words'\? Declared: "):
        parse_schema(text, source="x.yaml")


def test_a_misspelt_input_gets_a_close_match_suggestion() -> None:
    text = _edit("inputs: [price, brand]", "inputs: [prise, brand]")
    with pytest.raises(SchemaError, match=r"features\.meta\.inputs\.0 at x\.yaml:9: unknown input 'prise'\. "
                                          r"Did you mean 'price'\?"):
        parse_schema(text, source="x.yaml")


def test_a_misspelt_when_label_gets_a_close_match_suggestion() -> None:
    text = _edit("    features: [meta]\n", "    features: [meta]\n    when: {kind: [shrt]}\n")
    with pytest.raises(SchemaError, match=r"groups\.sale\.when\.kind\.0 at x\.yaml:18: group 'kind' has no label "
                                          r"'shrt'\. Did you mean 'shirt'\?"):
        parse_schema(text, source="x.yaml")


def test_an_unknown_key_is_refused_with_the_allowed_keys() -> None:
    text = _edit("    type: binary\n", "    type: binary\n    colour: red\n")
    with pytest.raises(SchemaError, match=r"groups\.sale\.colour at x\.yaml:17: unknown key 'colour'\. Allowed keys: "
                                          r"\[.*'features', .*'labels', .*'type', 'when'\]"):
        parse_schema(text, source="x.yaml")


def test_a_misspelt_top_level_key_gets_a_suggestion() -> None:
    text = _edit("features:\n  words", "featurs:\n  words")
    with pytest.raises(SchemaError, match=r"featurs at x\.yaml:7: unknown key 'featurs'\. Did you mean 'features'\?"):
        parse_schema(text, source="x.yaml")


@pytest.mark.parametrize("word", ["no", "yes", "on", "off", "No", "YES", "Off"])
def test_yaml_1_1_boolean_words_stay_label_strings(word: str) -> None:
    text = _edit("labels: [shirt, pants, dress]", f"labels: [{word}, maybe]")
    assert parse_schema(text).labels_of("kind") == [word, "maybe"]


def test_yaml_1_1_boolean_words_stay_strings_in_when() -> None:
    text = _edit("labels: [shirt, pants, dress]", "labels: [no, yes]")
    text = _edit("    features: [meta]\n", "    features: [meta]\n    when: {kind: [yes]}\n", text)
    assert parse_schema(text).groups["sale"].when == {"kind": ["yes"]}


def test_numbers_written_as_labels_become_strings() -> None:
    text = _edit("labels: [shirt, pants, dress]", "labels: [1, 2.5, true]")
    assert parse_schema(text).labels_of("kind") == ["1", "2.5", "true"]


def test_a_duplicate_label_is_refused() -> None:
    text = _edit("labels: [shirt, pants, dress]", "labels: [shirt, pants, shirt]")
    with pytest.raises(SchemaError, match=r"groups\.kind\.labels\.2 at x\.yaml:13: label 'shirt' is declared twice"):
        parse_schema(text, source="x.yaml")


def test_an_empty_label_list_is_refused() -> None:
    text = _edit("type: multiclass\n    labels: [shirt, pants, dress]", "type: multilabel\n    labels: []")
    with pytest.raises(SchemaError, match=r"groups\.kind\.labels at x\.yaml:13: a multilabel group needs at least 1 "):
        parse_schema(text, source="x.yaml")


def test_a_blank_label_is_refused() -> None:
    text = _edit("labels: [shirt, pants, dress]", "labels: [shirt, ' ']")
    with pytest.raises(SchemaError, match=r"groups\.kind\.labels\.1 at x\.yaml:13: a label must not be empty"):
        parse_schema(text, source="x.yaml")


def test_a_multiclass_group_without_labels_is_refused() -> None:
    text = _edit("    labels: [shirt, pants, dress]\n", "")
    with pytest.raises(SchemaError, match=r"groups\.kind\.labels at x\.yaml:11: a multiclass group must declare its "):
        parse_schema(text, source="x.yaml")


def test_an_empty_groups_mapping_is_refused() -> None:
    text = VALID.split("groups:", maxsplit=1)[0] + "groups: {}\n"
    with pytest.raises(SchemaError, match=r"groups at x\.yaml:10: .*at least 1 item"):
        parse_schema(text, source="x.yaml")


def test_an_empty_feature_list_of_a_group_is_refused() -> None:
    text = _edit("features: [words]", "features: []")
    with pytest.raises(SchemaError, match=r"groups\.kind\.features at x\.yaml:14: a group must read at least one"):
        parse_schema(text, source="x.yaml")


def test_a_when_on_an_unknown_group_is_refused() -> None:
    text = _edit("    features: [meta]\n", "    features: [meta]\n    when: {knd: [shirt]}\n")
    with pytest.raises(SchemaError, match=r"groups\.sale\.when\.knd at x\.yaml:18: unknown group 'knd'\. "
                                          r"Did you mean 'kind'\?"):
        parse_schema(text, source="x.yaml")


def test_a_when_on_an_unknown_label_is_refused() -> None:
    text = _edit("    features: [meta]\n", "    features: [meta]\n    when: {kind: [coat]}\n")
    with pytest.raises(SchemaError, match=r"groups\.sale\.when\.kind\.0 at x\.yaml:18: group 'kind' has no label "
                                          r"'coat'\..* Declared: \['shirt', 'pants', 'dress'\]"):
        parse_schema(text, source="x.yaml")


def test_a_when_on_itself_is_refused() -> None:
    text = _edit("    features: [meta]\n", "    features: [meta]\n    when: {sale: [sale]}\n")
    with pytest.raises(SchemaError, match=r"groups\.sale\.when\.sale at x\.yaml:18: a group cannot be conditional on "):
        parse_schema(text, source="x.yaml")


def test_a_when_on_a_multilabel_group_is_refused() -> None:
    text = _edit("type: multiclass", "type: multilabel")
    text = _edit("    features: [meta]\n", "    features: [meta]\n    when: {kind: [shirt]}\n", text)
    with pytest.raises(SchemaError, match=r"groups\.sale\.when\.kind at x\.yaml:18: group 'kind' is multilabel"):
        parse_schema(text, source="x.yaml")


def test_a_cycle_of_when_conditions_is_refused() -> None:
    text = _edit("    features: [words]\n", "    features: [words]\n    when: {sale: [sale]}\n")
    text = _edit("    features: [meta]\n", "    features: [meta]\n    when: {kind: [shirt]}\n", text)
    with pytest.raises(SchemaError, match=r"the `when` conditions form a cycle: (kind -> sale -> kind|sale -> kind -> "
                                          r"sale)"):
        parse_schema(text, source="x.yaml")


def test_a_feature_reading_an_undeclared_input_is_refused() -> None:
    text = _edit("inputs: [price, brand]", "inputs: [price, colour]")
    with pytest.raises(SchemaError, match=r"features\.meta\.inputs\.1 at x\.yaml:9: unknown input 'colour'\. .*"
                                          r"Declared: \['title', 'price', 'brand'\]"):
        parse_schema(text, source="x.yaml")


def test_a_tfidf_feature_reading_a_number_input_is_refused() -> None:
    text = _edit("inputs: [title]}", "inputs: [title, price]}")
    with pytest.raises(SchemaError, match=r"features\.words\.inputs\.1 at x\.yaml:8: a tfidf feature reads text "
                                          r"inputs, but input 'price' is number; read it with a 'tabular' feature"):
        parse_schema(text, source="x.yaml")


def test_a_tabular_feature_reading_text_is_refused() -> None:
    text = _edit("inputs: [price, brand]", "inputs: [price, title]")
    with pytest.raises(SchemaError, match=r"features\.meta\.inputs\.1 at x\.yaml:9: a tabular feature reads number "
                                          r"and category inputs, but input 'title' is text; "
                                          r"read it with a 'embedding' or 'tfidf'"):
        parse_schema(text, source="x.yaml")


def test_an_unknown_featurizer_parameter_is_refused_with_a_suggestion() -> None:
    text = _edit("inputs: [title]}", "inputs: [title], params: {min_dff: 2}}")
    with pytest.raises(SchemaError, match=r"features\.words\.params\.min_dff at x\.yaml:8: unknown tfidf parameter "
                                          r"'min_dff'\. Did you mean 'min_df'\?"):
        parse_schema(text, source="x.yaml")


def test_an_unknown_estimator_name_is_refused() -> None:
    text = _edit("    features: [words]\n", "    features: [words]\n    model: {estimator: logistic_regresion}\n")
    with pytest.raises(SchemaError, match=r"groups\.kind\.model\.estimator at x\.yaml:15: unknown estimator "
                                          r"'logistic_regresion'\. Did you mean 'logistic_regression'\? Registered: "):
        parse_schema(text, source="x.yaml")


def test_a_dotted_path_that_is_not_a_classifier_is_refused() -> None:
    text = _edit("    features: [words]\n",
                 "    features: [words]\n    model: {estimator: sklearn.linear_model.LinearRegression}\n")
    with pytest.raises(SchemaError, match=r"groups\.kind\.model\.estimator at x\.yaml:15: .*is not a scikit-learn "
                                          r"classifier"):
        parse_schema(text, source="x.yaml")


def test_a_dotted_path_to_a_classifier_is_accepted() -> None:
    text = _edit("    features: [words]\n",
                 "    features: [words]\n    model: {estimator: sklearn.svm.LinearSVC, params: {C: 2.0}}\n")
    assert parse_schema(text).groups["kind"].model.estimator == "sklearn.svm.LinearSVC"


def test_an_unknown_estimator_parameter_is_refused_with_a_suggestion() -> None:
    text = _edit("    features: [words]\n", "    features: [words]\n    model: {params: {max_iters: 50}}\n")
    with pytest.raises(SchemaError, match=r"groups\.kind\.model\.params\.max_iters at x\.yaml:15: "
                                          r"LogisticRegression has no "
                                          r"parameter 'max_iters'\. Did you mean 'max_iter'\?"):
        parse_schema(text, source="x.yaml")


def test_binary_labels_default_to_not_group_and_group() -> None:
    assert parse_schema(VALID).labels_of("sale") == ["not_sale", "sale"]


def test_a_binary_group_with_three_labels_is_refused() -> None:
    text = _edit("    type: binary\n", "    type: binary\n    labels: [a, b, c]\n")
    with pytest.raises(SchemaError, match=r"groups\.sale\.labels at x\.yaml:17: a binary group has exactly two labels"):
        parse_schema(text, source="x.yaml")


def test_a_decision_key_of_another_group_type_is_refused() -> None:
    text = _edit("    features: [words]\n", "    features: [words]\n    decision: {threshold: 0.5}\n")
    with pytest.raises(SchemaError, match=r"groups\.kind\.decision\.threshold at x\.yaml:15: 'threshold' does not "
                                          r"apply to a multiclass group"):
        parse_schema(text, source="x.yaml")


def test_a_threshold_outside_zero_one_is_refused() -> None:
    text = _edit("    features: [meta]\n", "    features: [meta]\n    decision: {threshold: 1.5}\n")
    with pytest.raises(SchemaError, match=r"groups\.sale\.decision\.threshold at x\.yaml:18: .*less than or equal "
                                          r"to 1; got 1\.5"):
        parse_schema(text, source="x.yaml")


def test_an_unknown_group_type_lists_the_allowed_types() -> None:
    text = _edit("type: multiclass", "type: multiclas")
    with pytest.raises(SchemaError, match=r"groups\.kind\.type at x\.yaml:12: got 'multiclas'; allowed: "
                                          r"'multiclass', 'binary', 'multilabel' or 'hierarchy'"):
        parse_schema(text, source="x.yaml")


def test_a_group_named_like_an_input_is_refused() -> None:
    text = _edit("  sale:\n", "  title:\n")
    with pytest.raises(SchemaError, match=r"groups\.title at x\.yaml:15: group 'title' has the name of an input"):
        parse_schema(text, source="x.yaml")


def test_a_duplicate_yaml_key_is_refused_with_its_line() -> None:
    text = VALID + "  kind:\n    type: binary\n"
    with pytest.raises(SchemaError, match=r"groups\.kind at x\.yaml:18: key 'kind' is written twice"):
        parse_schema(text, source="x.yaml")


def test_invalid_yaml_syntax_is_reported_with_its_line() -> None:
    text = _edit("labels: [shirt, pants, dress]", "labels: [shirt, pants, dress")
    with pytest.raises(SchemaError, match=r"^x\.yaml:1[34]: invalid YAML: "):
        parse_schema(text, source="x.yaml")


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(SchemaError, match=r"x\.yaml:1: a schema must be a mapping .*; got list"):
        parse_schema("- a\n- b\n", source="x.yaml")


def test_a_wrong_schema_version_is_refused() -> None:
    text = _edit("schema_version: 1", "schema_version: 2")
    with pytest.raises(SchemaError, match=r"schema_version at x\.yaml:1: got 2; allowed: 1"):
        parse_schema(text, source="x.yaml")


def test_a_missing_schema_file_is_a_schema_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match=r"schema file .*nowhere\.yaml' does not exist"):
        load_schema(tmp_path / "nowhere.yaml")


def test_a_key_with_brackets_is_reported_not_crashed_on() -> None:
    text = _edit("schema_version: 1", "s[chema_version: 1")
    with pytest.raises(SchemaError, match=r"s\[chema_version at x\.yaml:1: unknown key 's\[chema_version'"):
        parse_schema(text, source="x.yaml")


def test_schema_error_survives_pickling_with_its_problems() -> None:
    problems = _problems(_edit("features: [words]", "features: [wrds]"))
    error = SchemaError("x.yaml: 1 problem", problems)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.problems) == ("x.yaml: 1 problem", problems)


def test_a_schema_is_frozen() -> None:
    schema = parse_schema(VALID)
    with pytest.raises(ValueError, match="frozen"):
        schema.name = "other"  # type: ignore[misc]


def test_a_group_without_features_reads_every_feature() -> None:
    text = _edit("    features: [words]\n", "")
    assert parse_schema(text).features_of("kind") == ["words", "meta"]


def test_to_dict_reads_back_to_the_same_schema() -> None:
    from compose.schema.load import schema_from_dict

    schema = parse_schema(VALID)
    assert schema_from_dict(schema.to_dict()) == schema


def test_group_fingerprint_changes_with_the_model_but_not_with_another_group() -> None:
    schema = parse_schema(VALID)
    other = parse_schema(_edit("    features: [meta]\n", "    features: [meta]\n    model: {params: {C: 2.0}}\n"))
    assert (schema.group_fingerprint("kind"), schema.group_fingerprint("sale")) == (
        other.group_fingerprint("kind"), schema.group_fingerprint("sale"))
    assert other.group_fingerprint("sale") != schema.group_fingerprint("sale")


def test_schema_type_is_exported() -> None:
    import compose

    assert compose.Schema is Schema
