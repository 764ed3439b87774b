"""Training: row selection and splits, the promotion gate, fits and releases."""
