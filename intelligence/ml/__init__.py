"""Models trained on each tenant's own records: datasets, AutoML-lite, registry, predictions (issue #11)."""
