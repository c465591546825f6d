"""The model registry: train, register the model as a track's next version, promote it.

Shows ``Track.objects.get_or_create(...)`` with its stages, ``track.entries.add(artifact)``
(version numbers come from the platform), ``entry.promote("production")`` (a stage held by
another version is a ConflictError unless ``force=True``), ``track.entries.get(stage=...)``
("what is in production?") and the clean-up (entries removed before their artifacts).

Run it against the platform in DFS_API_KEY / DFS_BASE_URL / DFS_ORGANIZATION / DFS_ORBIT, or
against a local server (``dataforce-orm serve --port 8000`` prints the lines to export)::

    python examples/07_registry.py
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from dataforce_orm import ArtifactType, Collection, ConflictError, Session, Track
from dataforce_orm.testing import make_luml_archive


def main() -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    with Session(), tempfile.TemporaryDirectory() as tmp:
        models, _ = Collection.objects.get_or_create(name=name, defaults={
            "collection_type": "model"})
        track, _ = Track.objects.get_or_create(name=name, defaults={
            "artifact_type": ArtifactType.MODEL, "stages": ["staging", "production"]})
        for run, accuracy in enumerate((0.81, 0.93)):  # two training runs
            path = make_luml_archive(Path(tmp) / f"run{run}.luml", metrics={"accuracy": accuracy})
            entry = track.entries.add(models.artifacts.upload(path, name=f"run{run}"),
                                      stage="staging")
            print(f"registered {entry.artifact_name} as v{entry.version} (staging)")
            try:
                entry.promote("production")
            except ConflictError as exc:
                print(f"conflict   {exc.detail.split(';')[0]}")
                entry.promote("production", force=True)
        live = track.entries.get(stage="production")
        print(f"production v{live.version}: {live.artifact.name}, "
              f"accuracy {live.artifact.extra_values['accuracy']}")
        track.entries.remove(track.entries.all())  # the artifacts stay
        for art in models.artifacts.all():
            art.delete()
        track.delete()
        models.delete()
        print(f"deleted    {name}: its track, versions and artifacts")


if __name__ == "__main__":
    main()
