"""dataforce_orm: a Django-flavoured ORM for the DataForce (luml) platform's collections."""

from ._client import AsyncDataForceClient, DataForceClient
from ._errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DataForceError,
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
from ._query import Count, Manager, Max, Min, QuerySet
from ._session import Session, configure

__version__ = "0.1.0"

__all__ = [
    "APIError",
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
]
