"""Default thresholds of the schema advisor and the data check, kept apart so the CLI can show them
in its help without importing scipy or pandas."""

#: Overlap (share of the rarer label's rows) below which two labels still count as exclusive.
DEFAULT_TOLERANCE = 0.05
#: P(B|A) from which A => B is reported as an implication.
IMPLICATION = 0.98
#: Rows a label needs before its implications are reported.
MIN_SUPPORT = 10
#: Labels with fewer examples than this are warned about.
MIN_EXAMPLES = 10
