"""API views, one module per resource group; thin: they validate input and call the services."""
