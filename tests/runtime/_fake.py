"""A model with nothing fitted, for driving the execution core with a fake scorer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from compose.heads.head import Head
from compose.plan import build_plan
from compose.schema.models import Schema
from compose.store.records import Release


def _labels(schema: Schema, group: str) -> list[str]:
    labels = schema.groups[group].labels
    assert isinstance(labels, list)  # a hierarchy's tree is expanded into heads with label lists
    return labels


@dataclass
class FakeModel:
    """A `Runnable` with nothing fitted: the schema, heads that only name their labels, a release."""

    schema: Schema
    only: list[str] | None = None  # the groups this release holds (default: all of the schema)
    special: Mapping[str, Head] = field(default_factory=dict)  # heads to use instead of plain ones
    heads_: dict[str, Head] = field(init=False)
    release: Release = field(init=False)

    def __post_init__(self) -> None:
        names = self.only if self.only is not None else list(self.schema.groups)
        self.heads_ = {g: self.special.get(g) or Head(g, self.schema.groups[g].type, _labels(self.schema, g), ["f"])
                       for g in names}
        self.release = Release.model_validate({"release": "r0007", "created": "now", "sha256": "0" * 64,
                                               "schema": {}, "groups": {g: {"version": 3} for g in names}})

    @property
    def groups(self) -> list[str]:
        return [g for g in build_plan(self.schema).groups_in_order() if g in self.heads_]

    @property
    def release_name(self) -> str:
        return self.release.release

    def version_of(self, group: str) -> int:
        return self.release.groups[group].version
