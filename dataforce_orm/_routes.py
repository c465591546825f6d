"""The platform's routes named by more than one module: the organization and orbit listings,
which both the session (to resolve its scope) and the models (as their paths) use."""

ORGANIZATIONS = "/v1/users/me/organizations"
ORBITS = "/v1/organizations/{organization}/orbits"
