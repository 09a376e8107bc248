"""HTTP plumbing shared by the API, the pages and the webhooks: strict JSON, problem answers."""
