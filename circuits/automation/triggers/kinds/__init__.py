"""One module per trigger kind (or a small family); importing them fills the registry."""
