import pytest


@pytest.fixture(autouse=True)
def _demo_endpoints_on(settings):
    settings.DEMO_ENDPOINTS = True
