from circuits.models.circuit import Circuit
from circuits.models.tenancy import Invitation, Membership, Tenant

__all__ = ["Circuit", "Invitation", "Membership", "Tenant"]
