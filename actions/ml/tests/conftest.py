from intelligence.ml.tests.fixtures import trained  # noqa: F401  (fixture)
