"""dataforce_orm: a Django-flavoured ORM for the DataForce (luml) platform's collections."""

from ._artifacts import Artifact, ArtifactManager, ArtifactStatus, ArtifactType
from ._client import AsyncDataForceClient, DataForceClient
from ._errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DataForceError,
    IntegrityError,
    MultipleObjectsReturned,
    MultipleResourcesFoundError,
    NotFoundError,
    ObjectDoesNotExist,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
    UnprocessableEntityError,
    ValidationError,
)
from ._http import RetryPolicy
from ._lookups import Q
from ._models import BucketSecret, Collection, CollectionType, Orbit, Organization
from ._pack import pack
from ._query import Count, Manager, Max, Min, QuerySet
from ._session import Session, configure
from ._version import __version__ as __version__

__all__ = [
    "APIError",
    "Artifact",
    "ArtifactManager",
    "ArtifactStatus",
    "ArtifactType",
    "AsyncDataForceClient",
    "AuthenticationError",
    "BucketSecret",
    "Collection",
    "CollectionType",
    "ConfigurationError",
    "ConflictError",
    "Count",
    "DataForceClient",
    "DataForceError",
    "IntegrityError",
    "Manager",
    "Max",
    "Min",
    "MultipleObjectsReturned",
    "MultipleResourcesFoundError",
    "NotFoundError",
    "ObjectDoesNotExist",
    "Orbit",
    "Organization",
    "PermissionDeniedError",
    "Q",
    "QuerySet",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "Session",
    "TimeoutError",
    "TransportError",
    "UnprocessableEntityError",
    "ValidationError",
    "configure",
    "pack",
]
