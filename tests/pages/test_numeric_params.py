"""Pages read ids and numbers from query strings and forms: odd digits and huge numbers are refused or ignored, never a 500.

`str.isdigit()` is true for "²" (and other digits `int()` refuses) and for 5,000-digit
strings `int()` will not parse; these reached `int()` and answered a 500.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db
T = "/t/acme"
ODD = ["²", "9" * 5000]


@pytest.mark.parametrize("value", ODD, ids=["superscript", "5000-digits"])
def test_execution_search_live_rows_and_bulk_actions_ignore_ids_that_are_not_numbers(client_for, world, value):
    client = client_for(world.operator)
    assert client.get(f"{T}/executions/", {"q": f"#{value}"}).status_code in (200, 400)  # 400: the search box is too long
    assert client.get(f"{T}/executions/", {"ids": f"{value},1"}).status_code == 200
    assert client.post(f"{T}/executions/bulk", {"action": "cancel", "ids": [value]}).status_code in (302, 400)


@pytest.mark.parametrize("value", ODD, ids=["superscript", "5000-digits"])
def test_marking_notifications_read_ignores_ids_that_are_not_numbers(client_for, world, value):
    response = client_for(world.viewer).post(f"{T}/notifications/read", {"ids": [value]})
    assert response.status_code in (302, 400)


@pytest.mark.parametrize("value", ["nan", "inf", "1e999"])
def test_a_field_bound_that_is_not_finite_is_an_error_on_the_type_form(client_for, world, value):
    response = client_for(world.admin).post(
        f"{T}/records/_types/new",
        {"slug": "gadget", "label": "Gadget", "fields-0-name": "weight", "fields-0-type": "number", "fields-0-min": value},
    )
    assert response.status_code == 400
    assert f"min: &#x27;{value}&#x27; is not a number" in response.content.decode()
