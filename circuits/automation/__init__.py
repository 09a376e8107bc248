"""Circuits, versions, triggers, the engine, dispatch and executions."""
