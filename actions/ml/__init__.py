"""ml.* steps: scores from the tenant's own trained models (intelligence.ml), and outcomes fed back."""

from actions.ml import steps  # noqa: F401  (registers the actions)
