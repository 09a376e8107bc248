"""The record store: tenants' business data (leads, accounts, … and custom types).

- `types`: object type definitions (built-in and custom) and record validation
- `service`: create / update / delete / upsert with history and trigger hooks
- `query`: filtered, ordered, paged reads that run in the database
"""
