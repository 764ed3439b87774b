"""Label Studio as compose's labelling front end: configs from schemas, tasks and annotations as rows.

No web dependency here: the ML backend routes that use these live in `compose.serve.labelstudio`.
"""

from compose.labelstudio.config import draft_schema, label_config
from compose.labelstudio.exports import ExportRead, export_kind, read_export
from compose.labelstudio.tasks import (
    Annotated,
    annotation_cells,
    prediction,
    prediction_tasks,
    sample_id,
    task_rows,
    to_names,
)

__all__ = ["Annotated", "ExportRead", "annotation_cells", "draft_schema", "export_kind", "label_config", "prediction",
           "prediction_tasks", "read_export", "sample_id", "task_rows", "to_names"]
