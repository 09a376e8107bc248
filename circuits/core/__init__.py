"""Foundations with no domain knowledge: finite numbers, strict JSON, problem+json answers, the live-event publisher."""
