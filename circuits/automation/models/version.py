from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.models.scoping import TenantOwned, TenantQuerySet


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


# Statuses of a version that was published: executions ran (and rollback may run) exactly
# this graph, so it never changes again. Only status (published <-> archived), published_at,
# the note and updated_at of such a version may change.
FROZEN_STATUSES = (VersionStatus.PUBLISHED, VersionStatus.ARCHIVED)
_FROZEN_VERSION_FIELDS = ("tenant_id", "circuit_id", "number", "revision", "created_at")
_FROZEN_UPDATE_KEYS = {"tenant", "circuit", *_FROZEN_VERSION_FIELDS}


class PublishedVersionImmutable(ValidationError):
    """A change to a published (or archived) version's graph or identity was refused."""

    def __init__(self, what: str, version: Any = None, number: int | None = None):
        number = number if number is not None else getattr(version, "number", None)
        which = f"Version {number} of this circuit" if number is not None else "A published version"
        super().__init__(f"{which} was published, so its {what} cannot change. Edit the circuit's draft and publish it as a new version instead.")


class CircuitVersionQuerySet(TenantQuerySet):
    def _has_frozen(self) -> bool:
        return self.filter(status__in=FROZEN_STATUSES).exists()

    def update(self, **kwargs: Any) -> int:
        if (set(kwargs) & _FROZEN_UPDATE_KEYS or kwargs.get("status") == VersionStatus.DRAFT) and self._has_frozen():
            raise PublishedVersionImmutable("number, revision, circuit or status (back to draft)")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        # Deleting the whole circuit (or tenant) cascades without this method: only a direct delete is refused.
        if self._has_frozen():
            raise PublishedVersionImmutable("existence")
        return super().delete()


class OnError(models.TextChoices):
    FAIL = "fail", "Fail the execution"
    CONTINUE = "continue", "Continue with the next step"
    ERROR_PORT = "error_port", "Follow the error port"


class CircuitVersion(TenantOwned):
    """One version of a circuit's graph. Published versions never change again."""

    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Bumped on every draft save: the builder sends it back so concurrent edits are detected.
    revision = models.PositiveIntegerField(default=1)

    objects = CircuitVersionQuerySet.as_manager()

    class Meta:
        ordering = ["circuit", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["circuit", "number"], name="unique_version_number"),
            models.UniqueConstraint(fields=["circuit"], condition=models.Q(status="published"), name="one_published_version_per_circuit"),
            models.UniqueConstraint(fields=["circuit"], condition=models.Q(status="draft"), name="one_draft_per_circuit"),
        ]

    def __str__(self) -> str:
        return f"{self.circuit} v{self.number} ({self.status})"

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT

    def save(self, *args: Any, **kwargs: Any) -> None:
        stored = None if kwargs.get("force_insert") else self._stored()
        if stored is not None and stored["status"] in FROZEN_STATUSES:
            changed = [name.removesuffix("_id") for name in _FROZEN_VERSION_FIELDS if getattr(self, name) != stored[name]]
            if self.status == VersionStatus.DRAFT:
                changed.append("status (back to draft)")
            if changed:
                raise PublishedVersionImmutable(", ".join(changed), number=stored["number"])
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        stored = self._stored()
        if stored is not None and stored["status"] in FROZEN_STATUSES:
            raise PublishedVersionImmutable("existence", self)
        return super().delete(*args, **kwargs)

    def _stored(self) -> dict | None:
        if self.pk is None:
            return None
        return CircuitVersion.objects.filter(pk=self.pk).values("status", *_FROZEN_VERSION_FIELDS).first()


def _frozen_version_among(version_ids: Iterable[int | None]) -> CircuitVersion | None:
    ids = {pk for pk in version_ids if pk is not None}
    return CircuitVersion.objects.filter(pk__in=ids, status__in=FROZEN_STATUSES).first() if ids else None


class GraphRowQuerySet(models.QuerySet):
    """Nodes and edges of a published version are refused every write (bulk ones included)."""

    def _refuse_if_frozen(self) -> None:
        version = CircuitVersion.objects.filter(pk__in=self.values("version_id"), status__in=FROZEN_STATUSES).first()
        if version is not None:
            raise PublishedVersionImmutable("graph (nodes and edges)", version)

    def update(self, **kwargs: Any) -> int:
        self._refuse_if_frozen()
        # Moving rows of a draft into a published version would change its graph just the same.
        moved_to = [_version_id(kwargs[name]) for name in ("version", "version_id") if name in kwargs]
        if (version := _frozen_version_among(moved_to)) is not None:
            raise PublishedVersionImmutable("graph (nodes and edges)", version)
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._refuse_if_frozen()
        return super().delete()

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        if (version := _frozen_version_among(o.version_id for o in objs)) is not None:
            raise PublishedVersionImmutable("graph (nodes and edges)", version)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> int:
        # Checked before Django's own atomic block, which would otherwise be left broken.
        objs = list(objs)
        if (version := _frozen_version_among(o.version_id for o in objs)) is not None:
            raise PublishedVersionImmutable("graph (nodes and edges)", version)
        return super().bulk_update(objs, *args, **kwargs)


class GraphRow(models.Model):
    """A node or an edge: part of one version's graph, frozen with it once published."""

    objects = GraphRowQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._refuse_if_frozen()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self._refuse_if_frozen()
        return super().delete(*args, **kwargs)

    def _refuse_if_frozen(self) -> None:
        # The version it is stored under counts too: saving a published row under a draft moves it out of its graph.
        stored = type(self).objects.filter(pk=self.pk).values_list("version_id", flat=True).first() if self.pk is not None else None
        if (version := _frozen_version_among([self.version_id, stored])) is not None:
            raise PublishedVersionImmutable("graph (nodes and edges)", version)


def _version_id(value: Any) -> int:
    if isinstance(value, CircuitVersion):
        return value.pk
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # An expression cannot be judged before it runs; nothing needs to move graph rows that way.
    raise ValidationError("Graph rows can only be moved to a version given as a version or its id.")


class Node(GraphRow):
    version = models.ForeignKey(CircuitVersion, on_delete=models.CASCADE, related_name="nodes")
    key = models.SlugField(max_length=64)
    action = models.CharField(max_length=100)
    label = models.CharField(max_length=200, blank=True)
    config = models.JSONField(default=dict, blank=True)
    x = models.FloatField(default=0)
    y = models.FloatField(default=0)
    # {"max_attempts": 3, "backoff_seconds": 1.0, "max_backoff_seconds": 60}
    retry = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.FloatField(null=True, blank=True)
    on_error = models.CharField(max_length=16, choices=OnError.choices, default=OnError.FAIL)
    # Pinned data ({"output": …, "port": "next"}): test runs use it instead of running the step;
    # real executions never do (circuits/automation/engine/runner.py).
    pinned = models.JSONField(null=True, blank=True, default=None)

    class Meta:
        ordering = ["version", "pk"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="unique_node_key_per_version")]

    def __str__(self) -> str:
        return f"{self.key} ({self.action})"


class Edge(GraphRow):
    """source empty = the circuit's trigger: where execution starts."""

    version = models.ForeignKey(CircuitVersion, on_delete=models.CASCADE, related_name="edges")
    source = models.ForeignKey(Node, null=True, blank=True, on_delete=models.CASCADE, related_name="out_edges")
    source_port = models.CharField(max_length=64, default="next")
    target = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="in_edges")

    class Meta:
        ordering = ["version", "pk"]
        constraints = [models.UniqueConstraint(fields=["source", "source_port", "target"], name="unique_edge")]

    def __str__(self) -> str:
        return f"{self.source.key if self.source_id else 'trigger'}.{self.source_port} → {self.target.key}"
