"""Signals the tenancy layer sends; the layers above it receive them (connected in `CircuitsConfig.ready`).

Tenancy sits below automation and cannot know its models, so what leaving a tenant means
for circuits (their object grants) is said by automation in its receivers.
"""

from django.dispatch import Signal

# Sent inside the removal's transaction, after the membership row is gone.
# kwargs: tenant (Tenant), user (the user who left or was removed)
member_left = Signal()
