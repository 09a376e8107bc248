"""The builder's node form refuses NaN and infinity in numeric fields (a config cannot hold them)."""

from __future__ import annotations

import json
from html import unescape

import pytest

from tests.builder.helpers import flow

pytestmark = pytest.mark.django_db
URL = "/t/acme/circuits/flow/edit/node-form"


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
def test_numeric_node_settings_that_are_not_finite_are_errors_on_their_fields(world, client_for, value):
    flow(world)
    response = client_for(world.editor).post(
        URL,
        {
            "action": "web.http_request",
            "key": "call",
            "n.key": "call",
            "c.url": "https://example.com/",
            "c.timeout_seconds": value,  # a config field (schema form)
            "n.timeout_seconds": value,  # the step's own timeout
            "n.backoff_seconds": value,  # retry settings
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    result = json.loads(unescape(html.split('data-result="')[1].split('"></template>')[0]))
    assert not result["valid"]
    assert f"&#x27;{value}&#x27; is not a number" in html.split('id="fe-c-timeout_seconds"')[1].split("</div>")[0]
    assert f"&#x27;{value}&#x27; is not a number of seconds" in html
    assert f"backoff seconds: &#x27;{value}&#x27; is not a number" in html
