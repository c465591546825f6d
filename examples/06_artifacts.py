"""Artifacts: upload a model into a collection, find it by a metric, download it, delete it.

Shows ``collection.artifacts.upload(...)`` (a ``.luml`` archive; one PUT or parallel parts,
whatever its size), querying artifacts like any model (``filter``, ``order_by`` over a metric
of ``extra_values``), ``download()`` (checked against its SHA-256), ``save()`` of a rename and
``delete()`` (the stored file too).

Run it against the platform in DFS_API_KEY / DFS_BASE_URL / DFS_ORGANIZATION / DFS_ORBIT, or
against a local server (``dataforce-orm serve --port 8000`` prints the lines to export)::

    python examples/06_artifacts.py
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from dataforce_orm import Collection, CollectionType, Session
from dataforce_orm.testing import make_luml_archive


def main() -> None:
    prefix = f"artifacts-{uuid.uuid4().hex[:6]}"
    with Session(), tempfile.TemporaryDirectory() as tmp:
        c = Collection.objects.create(name=prefix, collection_type=CollectionType.MODEL)
        try:
            for i, accuracy in enumerate((0.81, 0.93, 0.88)):
                path = make_luml_archive(Path(tmp) / f"churn-v{i}.luml",
                                         metrics={"accuracy": accuracy})
                a = c.artifacts.upload(path, name=f"churn-v{i}", tags=["candidate"])
                print(f"uploaded  {a.name} {a.size} bytes, status {a.status}, "
                      f"extra_values {a.extra_values}")
            best = c.artifacts.order_by("-extra_values__accuracy").first()
            assert best is not None
            print(f"best      {best.name} (accuracy {best.extra_values['accuracy']})")
            best.tags.append("prod")
            best.save()  # the artifact PATCH is partial: only the tags are sent
            out = best.download(tmp)  # into the directory, under its stored name
            print(f"download  {out.name}, {out.stat().st_size} bytes, SHA-256 checked")
            print(f"prod      {[a.name for a in c.artifacts.filter(tags__contains='prod')]}")
        finally:
            for a in c.artifacts.all():
                a.delete()  # delete URL, the stored file, then the row
            c.delete()
        print(f"deleted   {prefix} and its artifacts")


if __name__ == "__main__":
    main()
