"""docs/admin/backup.md's procedure: scripts/backup of a live database and media folder,
scripts/restore into a fresh database and folder, and the data is all there."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from annotation.models import Category, Project

ROOT = Path(__file__).resolve().parents[2]


def url(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_fresh_database_and_media_folder(coco_project, tmp_path):
    if connection.vendor != "postgresql" or not shutil.which("pg_dump"):
        pytest.skip("pg_dump backs up PostgreSQL (the embedded SQLite default is one file)")
    photo = default_storage.save("images/backup-check.jpg", ContentFile(b"\xff\xd8 a photo"))
    media_root = Path(default_storage.location)  # type: ignore[attr-defined]
    categories = sorted(
        Category.objects.filter(taxonomy=coco_project.taxonomy_id).values_list("name", flat=True)
    )

    backup_dir = tmp_path / "backup"
    env = {**os.environ, "DATABASE_URL": url(connection.settings_dict["NAME"]),
           "MEDIA_ROOT": str(media_root)}  # fmt: skip
    made = subprocess.run(
        [ROOT / "scripts/backup", backup_dir], env=env, capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in backup_dir.iterdir()) == ["database.dump", "media.tar.gz"]

    fresh = f"cocoforge_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{fresh}"')
    try:
        restored_media = tmp_path / "restored-media"
        restored = subprocess.run(
            [ROOT / "scripts/restore", backup_dir],
            env={**env, "DATABASE_URL": url(fresh), "MEDIA_ROOT": str(restored_media)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        with psycopg.connect(url(fresh)) as copy:
            names = copy.execute(
                f"SELECT name FROM {Project._meta.db_table} WHERE id = %s", [coco_project.id]
            ).fetchone()
            copied = copy.execute(
                f"SELECT name FROM {Category._meta.db_table} WHERE taxonomy_id = %s ORDER BY name",
                [coco_project.taxonomy_id],
            ).fetchall()
        assert names == (coco_project.name,)
        assert [name for (name,) in copied] == categories and len(categories) >= 80
        assert (restored_media / photo).read_bytes() == b"\xff\xd8 a photo"
    finally:
        with psycopg.connect(url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


def test_restore_refuses_an_incomplete_backup(tmp_path):
    (tmp_path / "database.dump").write_bytes(b"")
    result = subprocess.run(
        [ROOT / "scripts/restore", tmp_path],
        env={**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
             "MEDIA_ROOT": str(tmp_path / "m")},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "media.tar.gz is missing" in result.stderr
