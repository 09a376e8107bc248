# The shared test world (tests/fixtures.py) is available to every test in the repo,
# including the action families' own tests under actions/<family>/tests/.
pytest_plugins = ["tests.fixtures"]
