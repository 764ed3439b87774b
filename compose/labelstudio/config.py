"""A schema as a Label Studio labelling config (XML), and a config read back into a draft schema.

The config shows the schema's inputs and asks one question per group:

- an `image` input is an `<Image>`; every other input (text, number, category, a plugin's kind) is a
  `<Text>` under a `<Header>` naming it. Label Studio has no object tag for a number, and a
  `<Table>` would need the task's values nested under one key, while compose's tasks keep one key
  per input (`{"data": {"bill_length_mm": 39.1, ...}}`), the rows `compose predict` reads;
- each group is one `<Choices name="GROUP">` with one `<Choice value="LABEL">` per label, on the
  first input. `choice="single-radio"` for a multiclass group, `"single"` for a binary group (so
  the two read back apart), `"multiple"` for a multilabel group;
- a `when` group is shown only when its gate is answered with a wanted label:
  `visibleWhen="choice-selected" whenTagName="GATE" whenChoiceValue="A,B"` (one gate on the
  `<Choices>`, each further gate on an enclosing `<View>`).

Reading a config back takes every `<Choices>` as a group (its `name`, its `<Choice>` values, its
`choice` kind and the `visibleWhen` conditions on it and its enclosing views) and every object tag
as an input, with one draft feature per kind of input, so that the draft validates.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from compose.errors import SchemaError
from compose.schema.models import NAME_PATTERN, Schema

#: Label Studio's object tags (what a task shows) and the input kind a draft schema gives them.
OBJECT_TAGS = {"Text": "text", "HyperText": "text", "Paragraphs": "text", "Image": "image", "Table": "text"}
_CHOICE_KIND = {"multiclass": "single-radio", "binary": "single", "multilabel": "multiple"}
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def label_config(schema: Schema) -> str:
    """The labelling config of a schema: its inputs shown, one `<Choices>` per group."""
    _check_names(schema)
    view = ET.Element("View")
    objects = _objects(view, schema)
    for group in schema.groups:
        _group(view, schema, group, objects[0])
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"


def _check_names(schema: Schema) -> None:
    for name in schema.inputs:
        if not _VARIABLE.match(name):
            raise SchemaError(f"schema {schema.name}: input {name!r} cannot be a Label Studio task variable "
                              "($name takes letters, digits and underscores); rename the input")
    clash = sorted(set(schema.inputs) & set(schema.groups))
    if clash:
        raise SchemaError(f"schema {schema.name}: {clash} name both an input and a group, but a Label Studio "
                          "config needs every tag name once; rename the group or the input")
    for group, spec in schema.groups.items():
        for gate, wanted in (spec.when or {}).items():
            if any("," in label for label in wanted):
                raise SchemaError(f"schema {schema.name}: groups.{group}.when.{gate} names a label with a comma, "
                                  "which Label Studio's whenChoiceValue cannot hold (it splits on commas); "
                                  "rename that label")


def _objects(view: ET.Element, schema: Schema) -> list[str]:
    names = []
    for name, spec in schema.inputs.items():
        ET.SubElement(view, "Header", value=name)
        tag = "Image" if spec.type == "image" else "Text"
        ET.SubElement(view, tag, name=name, value=f"${name}")
        names.append(name)
    return names


def _group(view: ET.Element, schema: Schema, group: str, to_name: str) -> None:
    spec = schema.groups[group]
    gates = list((spec.when or {}).items())
    parent = view
    for gate, wanted in gates[1:]:  # Label Studio takes one condition per tag: the others on enclosing views
        parent = ET.SubElement(parent, "View", visibleWhen="choice-selected", whenTagName=gate,
                               whenChoiceValue=",".join(wanted))
    box = ET.SubElement(parent, "View")
    ET.SubElement(box, "Header", value=group)
    attrs = {"name": group, "toName": to_name, "choice": _CHOICE_KIND[spec.type], "showInline": "true"}
    if gates:
        gate, wanted = gates[0]
        attrs |= {"visibleWhen": "choice-selected", "whenTagName": gate, "whenChoiceValue": ",".join(wanted)}
    choices = ET.SubElement(box, "Choices", attrs)
    for label in schema.labels_of(group):
        ET.SubElement(choices, "Choice", value=label)


def parse_config(text: str, source: str) -> ET.Element:
    """The root `<View>` of a labelling config; a broken one is a SchemaError naming `source`."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SchemaError(f"{source}: not a Label Studio labelling config: the XML is broken ({exc}); "
                          "give the config as Label Studio shows it under Settings > Labeling Interface > Code"
                          ) from exc
    if root.tag != "View":
        raise SchemaError(f"{source}: a labelling config starts with <View>, not <{root.tag}>")
    return root


def choices_controls(root: ET.Element) -> dict[str, ET.Element]:
    """Every `<Choices>` of a config by its name."""
    return {c.get("name", ""): c for c in root.iter("Choices")}


def draft_schema(text: str, source: str, name: str) -> dict[str, Any]:
    """A draft schema (a dict, for YAML) from a labelling config: one group per `<Choices>`."""
    root = parse_config(text, source)
    parents = {child: parent for parent in root.iter() for child in parent}
    inputs = {o.get("name", ""): {"type": kind} for o in root.iter() if (kind := OBJECT_TAGS.get(o.tag))}
    inputs.pop("", None)
    if not inputs:
        raise SchemaError(f"{source}: no object tag ({', '.join(OBJECT_TAGS)}) with a name: a schema needs an "
                          "input to read")
    groups = {}
    for gname, control in choices_controls(root).items():
        groups[gname] = _draft_group(control, parents, source, gname)
    if not groups:
        raise SchemaError(f"{source}: no <Choices> control: compose reads one group from each <Choices name=...>")
    kinds = sorted({spec["type"] for spec in inputs.values()})
    feature_of = {"text": "tfidf", "image": "color_histogram"}
    features = {f"{kind}_features": {"type": feature_of[kind], "inputs": [i for i, s in inputs.items()
                                                                         if s["type"] == kind]}
                for kind in kinds}
    return {"schema_version": 1, "name": name, "inputs": inputs, "features": features, "groups": groups}


def _draft_group(control: ET.Element, parents: dict[ET.Element, ET.Element], source: str,
                 gname: str) -> dict[str, Any]:
    where = f"{source}: <Choices name={gname!r}>"
    if not re.match(NAME_PATTERN, gname):
        raise SchemaError(f"{where}: a group name takes letters, digits, '_', '.' and '-' (no spaces); rename "
                          "the control")
    labels = [c.get("value") or c.get("alias") or "" for c in control.iter("Choice")]
    if not labels or "" in labels:
        raise SchemaError(f"{where}: every <Choice> needs a value, and a group at least one")
    kind = control.get("choice", "single")
    single = "binary" if kind == "single" and len(labels) == 2 else "multiclass"
    gtype = "multilabel" if kind == "multiple" else single
    group: dict[str, Any] = {"type": gtype, "labels": labels}
    when = _conditions(control, parents, where)
    if when:
        group["when"] = when
    return group


def _conditions(element: ET.Element, parents: dict[ET.Element, ET.Element], where: str) -> dict[str, list[str]]:
    when: dict[str, list[str]] = {}
    node: ET.Element | None = element
    while node is not None:
        if node.get("visibleWhen") == "choice-selected":
            gate, wanted = node.get("whenTagName"), node.get("whenChoiceValue")
            if not gate or not wanted:
                raise SchemaError(f"{where}: visibleWhen=\"choice-selected\" needs whenTagName and "
                                  "whenChoiceValue for compose to read a `when` condition")
            when.setdefault(gate, [v.strip() for v in wanted.split(",") if v.strip()])
        node = parents.get(node)
    return when
