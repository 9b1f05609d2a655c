"""Benchmark stage 1: perceptual hashing and near-duplicate grouping per 1,000 candidates,
and the yield of one collection run against the local Flickr-compatible server.

    .venv/bin/python benchmarks/bench_collection_dedup.py                  # both parts
    .venv/bin/python benchmarks/bench_collection_dedup.py --photos 500 --hashes 20000 --no-yield

Hashing: `photo_thumbnail` (decode, EXIF orientation, 64-bit DCT phash, 160 px JPEG
thumbnail: the per-candidate work of candidate_offer) on synthetic 640x480 JPEGs (COCO's
size), and phash alone. Dedup: `near_duplicate_groups` on random 64-bit hashes with planted
near-duplicates (the default 5-bit distance). The yield run uses a throw-away SQLite
database: it plans the pair queries of a small taxonomy, fetches them from the test server
(through the real client: HTTP, pages, downloads), posts grids, lets three simulated workers
vote (30% of photos iconic, each worker wrong 10% of the time) and counts what is kept.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("COCOFORGE_TEST_BACKEND", "sqlite")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ["COCOFORGE_VAR_DIR"] = tempfile.mkdtemp(prefix="cocoforge-bench-")

import django  # noqa: E402

django.setup()

import imagehash  # noqa: E402
import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402

from annotation.stages import collection  # noqa: E402


def synthetic_jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    small = PIL.Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), "RGB")
    photo = small.resize((640, 480), PIL.Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def bench_hashing(count: int) -> None:
    photos = [synthetic_jpeg(seed) for seed in range(count)]
    start = time.perf_counter()
    for content in photos:
        collection.photo_thumbnail(content, 160)
    full = time.perf_counter() - start
    start = time.perf_counter()
    for content in photos:
        with PIL.Image.open(io.BytesIO(content)) as photo:
            imagehash.phash(photo)
    phash_only = time.perf_counter() - start
    print(f"hashing, {count} JPEGs 640x480:")
    print(f"  decode + phash + thumbnail: {full / count * 1000:.2f} s per 1,000 candidates")
    print(f"  decode + phash only:        {phash_only / count * 1000:.2f} s per 1,000 candidates")


def bench_dedup(count: int, distance: int = 5) -> None:
    rng = random.Random(7)
    hashes = [(i, rng.getrandbits(64)) for i in range(count)]
    planted = count // 10
    for j in range(planted):  # a near-duplicate of a random earlier photo, 0-3 bits flipped
        _, value = hashes[rng.randrange(count)]
        for _ in range(rng.randrange(4)):
            value ^= 1 << rng.randrange(64)
        hashes.append((count + j, value))
    start = time.perf_counter()
    groups = collection.near_duplicate_groups(hashes, distance)
    elapsed = time.perf_counter() - start
    grouped = sum(1 for item, root in groups.items() if item != root)
    total = len(hashes)
    print(f"dedup, {total} hashes ({planted} planted near-duplicates), distance <= {distance}:")
    print(f"  {elapsed:.3f} s in all, {elapsed / total * 1000:.4f} s per 1,000 candidates;"
          f" {grouped} grouped under another")  # fmt: skip


def yield_run() -> None:
    from django.core.management import call_command

    from annotation.models import Image, Stage
    from annotation.models.collection import Candidate, SearchQuery
    from annotation.services import task_engine
    from annotation.services.people import worker_create
    from annotation.services.projects import project_create
    from annotation.sources import flickr
    from tests.annotation.sources.flickr_server import FlickrServer, near_copy

    call_command("migrate", verbosity=0)
    names = ["dog", "car", "bench", "bicycle", "umbrella"]
    project = project_create(name="Yield run", categories=[{"name": n} for n in names])
    project.stage_settings = {"collection_per_page": 50, "collection_photos_per_query": 100}
    project.save()
    collection.collection_queries_plan(project=project, kinds=["pair"])
    rng = random.Random(11)
    with FlickrServer() as server:
        seed = 0
        for query in SearchQuery.objects.filter(project=project):
            found = rng.randrange(20, 140)  # some queries run dry, some have more than asked
            # A few busy photographers, so the per-photographer cap bites.
            items = server.fake.add_photos(query.text, found, start_seed=seed,
                                           owner=lambda i: f"o{rng.randrange(60)}")  # fmt: skip
            for item in items[::25]:  # a broken download now and then
                server.fake.files[item["url_z"].rsplit("/", 1)[1]] = b"<html>gone</html>"
            for item in items[1::30]:  # and a re-upload of another photo
                server.fake.files[item["url_z"].rsplit("/", 1)[1]] = near_copy(seed)
            seed += found
        client = flickr.FlickrClient(api_key="test-key", base_url=server.api_url, min_interval=0)
        start = time.perf_counter()
        runs = flickr.queries_run(project=project, client=client, max_queries=100)
        fetch_seconds = time.perf_counter() - start
    grids = collection.collection_grids_post(project=project)
    truly_iconic = {c: rng.random() < 0.3 for c in Candidate.objects.values_list("id", flat=True)}
    workers = [
        worker_create(username=f"w{i}", password="x" * 12, role="annotator") for i in range(3)
    ]
    for _grid in grids:
        for worker in workers:
            lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.COLLECTION)
            assert lease is not None, "a grid for every worker"
            ids = lease.task.payload["candidate_ids"]
            marked = [c for c in ids if truly_iconic[c] != (rng.random() < 0.1)]
            task_engine.assignment_submit(assignment_id=lease.id, worker=worker,
                                          answer={"marked": marked}, key=f"{lease.id}")  # fmt: skip
    summary = collection.collection_summary(project=project)
    offered = sum(run.query.offered for run in runs)
    print(f"yield of one run against the local server ({len(runs)} pair queries, 3 voters):")
    print(f"  photos offered {offered} in {fetch_seconds:.1f} s; stored "
          f"{offered - summary['capped'] - summary['failed']}; over the photographer cap "
          f"{summary['capped']}; failed {summary['failed']}; near-duplicates "
          f"{summary['duplicate']}; posted in {len(grids)} grid(s)")  # fmt: skip
    print(
        f"  kept {summary['accepted']} ({Image.objects.count()} images: "
        + ", ".join(
            f"{s} {Image.objects.filter(split=s).count()}" for s in ("train", "val", "test")
        )
        + f"), voted iconic {summary['iconic']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000, help="JPEGs to hash")
    parser.add_argument("--hashes", type=int, default=100_000, help="hashes to group")
    parser.add_argument("--no-yield", action="store_true", help="skip the yield run")
    args = parser.parse_args()
    bench_hashing(args.photos)
    bench_dedup(args.hashes // 10)
    bench_dedup(args.hashes)
    if not args.no_yield:
        yield_run()


if __name__ == "__main__":
    main()
