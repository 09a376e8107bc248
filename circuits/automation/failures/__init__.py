"""What happens when an execution fails (n8n's "error workflow", Zapier's error alerts).

- `policy`: the "on failure" setting of a circuit (or the tenant's default for circuits
  without one), validated against the tenant: whom to notify in the app, which members to
  e-mail, which Slack credential to post through, which error circuit to start, and the
  digest window that turns a storm of failures into one alert per window;
- `digest`: the window, kept in the cache (Redis in production), so every worker agrees;
- `delivery`: what the Celery task `deliver_failure_alerts` does with one failed execution.

The engine knows none of this: it sends `execution_finished`, and the receiver in
circuits/automation/receivers.py enqueues the task once the failure is committed.
"""
