"""Deploying: register a model, promote it, serve the production version on a satellite,
wait for it, call it, roll out the next version, tear it all down.

Shows ``Satellite(...).save()`` (its one-time pairing key on ``api_key``), a
``LocalSatellite`` standing in for a real compute node, ``Deployment(track=...,
stage="production", ...)`` and ``wait_until(DeploymentStatus.ACTIVE)``, a call to
``inference_url`` with the user's own key, ``Deployment.objects.rollout(old, track=...,
stage="production")`` once v2 is promoted, and ``delete(wait=True)``.

Run it against the platform in DFS_API_KEY / DFS_BASE_URL / DFS_ORGANIZATION / DFS_ORBIT, or
against a local server (``dataforce-orm serve --port 8000`` prints the lines to export)::

    python examples/08_deploying.py
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import requests

from dataforce_orm import (
    ArtifactType,
    Collection,
    CollectionType,
    Deployment,
    DeploymentStatus,
    Satellite,
    Session,
    Track,
)
from dataforce_orm.testing import LocalSatellite, make_luml_archive


def main() -> None:
    prefix = f"deploying-{uuid.uuid4().hex[:6]}"
    with Session() as session, tempfile.TemporaryDirectory() as tmp:
        c = Collection.objects.create(name=prefix, collection_type=CollectionType.MODEL)
        sat = Satellite(name=f"{prefix}-node", description="a local stand-in")
        sat.save()  # the pairing key is shown once: keep it for the agent
        print(f"satellite {sat.name} created, key {sat.api_key!r} (str() gives it)")
        track = Track.objects.create(name=prefix, artifact_type=ArtifactType.MODEL,
                                     stages=["staging", "production"])
        try:
            v1, v2 = (track.entries.add(c.artifacts.upload(
                make_luml_archive(Path(tmp) / f"clf-{v}.luml"), name=f"clf-{v}"))
                for v in ("v1", "v2"))
            v1.promote("production")
            with LocalSatellite(session.base_url, str(sat.api_key), poll_interval=0.05):
                dep = Deployment(track=track, stage="production", satellite=sat,
                                 name="clf-prod", satellite_parameters={"replicas": 1})
                dep.save()  # deploys what production holds now: v1
                dep.wait_until(DeploymentStatus.ACTIVE, timeout=60)
                print(f"deployed  {dep.name} ({dep.artifact_name}): {dep.status}")
                user_key = os.environ["DFS_API_KEY"]  # the key scripting the platform calls it
                assert dep.inference_url is not None
                answer = requests.post(f"{dep.inference_url}/predict", json={"x": [1, 2]},
                                       headers={"Authorization": f"Bearer {user_key}"},
                                       timeout=10)
                print(f"inference {answer.status_code} {answer.json()['body']}")
                v2.promote("production", force=True)
                new = Deployment.objects.rollout(dep, track=track, stage="production",
                                                 timeout=60)
                print(f"rolled    {new.name} now serves {new.artifact_name}: {new.status}")
                new.delete(wait=True, timeout=60)
                print(f"removed   {new.name}: {Deployment.objects.count()} deployment(s) left")
        finally:
            for d in Deployment.objects.filter(satellite_id=sat.id):
                d.delete(force=True)  # (only after a failure: the rows, nothing undeployed)
            sat.delete()
            track.entries.remove(track.entries.all())
            track.delete()
            for a in c.artifacts.all():
                a.delete()
            c.delete()
        print(f"deleted   {prefix}: satellite, track, artifacts and collection")


if __name__ == "__main__":
    main()
