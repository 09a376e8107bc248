"""Entities, typed relations between them and suggested relations, per tenant.

Kinds of entity and types of relation are slugs: the built-in ones live in code
(intelligence/graph/types.py), a tenant adds its own as `EntityKind` / `RelationType` rows.
A relation of a symmetric type is stored once, with the smaller entity id as its source, so
"A competes with B" and "B competes with A" are the same row.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from circuits.tenancy.models.scoping import TenantOwned


class Origin(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    RECORD = "record", "Synced from a record"
    DOCUMENT = "document", "Found in a document"
    INFERENCE = "inference", "Accepted suggestion"


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class EntityKind(TenantOwned):
    """A tenant's own kind of entity (e.g. "regulation"), next to the built-in kinds."""

    slug = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="graph_kind_unique_per_tenant")]
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.label


class RelationType(TenantOwned):
    """A tenant's own type of relation with its declared properties."""

    slug = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    symmetric = models.BooleanField(default=False, help_text="A→B implies B→A (stored once).")
    transitive = models.BooleanField(default=False, help_text="A→B and B→C suggest A→C.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="graph_reltype_unique_per_tenant")]
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.label


class Entity(TenantOwned):
    """A company, person, product, … known to the tenant. `key` is the normalised name: one
    entity per (kind, key). `record` links an entity synced from a record (account, contact)."""

    kind = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    aliases = models.JSONField(default=list, blank=True, help_text="Other names the document matcher recognises.")
    attributes = models.JSONField(default=dict, blank=True, help_text="industry, region, technology, … (used by inference).")
    record = models.ForeignKey("circuits.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "key"], name="graph_entity_unique_per_tenant")]
        indexes = [models.Index(fields=["tenant", "record"], name="graph_entity_record")]
        ordering = ["kind", "name", "id"]
        verbose_name_plural = "entities"

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Relation(TenantOwned):
    """`source` —type→ `target`, with where it came from, how sure we are and when it held."""

    source = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="out_relations")
    target = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="in_relations")
    type = models.SlugField(max_length=50)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.MANUAL)
    confidence = models.FloatField(default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True, help_text="What supports it: record id, document id and the matched text, the suggestion.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "source", "target", "type"], name="graph_relation_unique"),
            models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="graph_relation_not_self"),
        ]
        indexes = [models.Index(fields=["tenant", "type"], name="graph_relation_type")]
        ordering = ["type", "id"]

    def __str__(self) -> str:
        return f"{self.source_id} -{self.type}-> {self.target_id}"


class Suggestion(TenantOwned):
    """A relation inference proposes. Deciding it keeps the row: an accepted one became a
    relation, a rejected one is never suggested again (same pair and type, either direction
    for symmetric types — stored in canonical order like relations)."""

    source = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    type = models.SlugField(max_length=50)
    score = models.FloatField()
    method = models.CharField(max_length=50, help_text="The predictor or rule that proposed it.")
    reason = models.TextField()
    details = models.JSONField(default=dict, blank=True, help_text="The single scores and shared neighbours behind it.")
    status = models.CharField(max_length=20, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "source", "target", "type"], name="graph_suggestion_unique")]
        indexes = [models.Index(fields=["tenant", "status", "-score"], name="graph_suggestion_status")]
        ordering = ["-score", "id"]

    def __str__(self) -> str:
        return f"{self.source_id} -{self.type}?-> {self.target_id} ({self.score:.2f})"
