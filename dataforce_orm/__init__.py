"""dataforce_orm: a Django-flavoured ORM for the DataForce (luml) platform's collections."""

from ._artifacts import Artifact, ArtifactManager, ArtifactStatus, ArtifactType
from ._bucket_check import BucketConnectionError
from ._client import AsyncDataForceClient, DataForceClient
from ._clients import PluggableTransport
from ._deployments import (
    Deployment,
    DeploymentFailedError,
    DeploymentManager,
    DeploymentStatus,
    RolloutError,
)
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
from ._orbit_secrets import OrbitSecret
from ._pack import pack
from ._query import Count, Manager, Max, Min, QuerySet
from ._registry import Stage, StageList, Track, TrackEntry, TrackEntryQuerySet
from ._satellites import Satellite, SatelliteStatus
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
    "BucketConnectionError",
    "BucketSecret",
    "Collection",
    "CollectionType",
    "ConfigurationError",
    "ConflictError",
    "Count",
    "DataForceClient",
    "DataForceError",
    "Deployment",
    "DeploymentFailedError",
    "DeploymentManager",
    "DeploymentStatus",
    "IntegrityError",
    "Manager",
    "Max",
    "Min",
    "MultipleObjectsReturned",
    "MultipleResourcesFoundError",
    "NotFoundError",
    "ObjectDoesNotExist",
    "Orbit",
    "OrbitSecret",
    "Organization",
    "PermissionDeniedError",
    "PluggableTransport",
    "Q",
    "QuerySet",
    "RateLimitError",
    "RetryPolicy",
    "RolloutError",
    "Satellite",
    "SatelliteStatus",
    "ServerError",
    "Session",
    "Stage",
    "StageList",
    "TimeoutError",
    "Track",
    "TrackEntry",
    "TrackEntryQuerySet",
    "TransportError",
    "UnprocessableEntityError",
    "ValidationError",
    "configure",
    "pack",
]
