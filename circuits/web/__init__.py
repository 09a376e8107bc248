"""The web layer: REST API, server-rendered pages, the builder, WebSocket consumers."""
