from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.errors import DomainError
from annotation.models.collection import SearchQuery
from annotation.sources import flickr, local
from annotation.stages import collection
from annotation.stages.collection import CandidateOffer
from pipelines.management.cli import find_project


class Command(BaseCommand):
    help = (
        "Stage 1, image collection (COCO thesis §2.3.2): plan search queries from the "
        "project's taxonomy, fetch candidates from Flickr or a folder / URL list / S3 prefix, "
        "remove near-duplicates, post iconic-filtering grids, and print the yield."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--project", required=True, help="Project name, slug or id")
        parser.add_argument(
            "--plan",
            nargs="?",
            const=",".join(collection.DEFAULT_PLAN_KINDS),
            metavar="KINDS",
            help=f"Plan queries of these kinds, of {','.join(collection.PLAN_KINDS)} (default "
            f"{','.join(collection.DEFAULT_PLAN_KINDS)}; single adds one per category)",
        )
        parser.add_argument(
            "--fallback",
            action="store_true",
            help="Plan single-category queries for categories whose queries found too few photos",
        )
        parser.add_argument(
            "--flickr",
            type=int,
            metavar="N",
            help="Fetch the next N pending queries from Flickr (FLICKR_API_KEY, FLICKR_API_URL)",
        )
        parser.add_argument("--per-query", type=int, help="New photos per query (default: setting)")
        parser.add_argument("--kinds", help="Only run queries of these kinds, e.g. pair,single")
        parser.add_argument("--folder", type=Path, help="Offer every file under this folder")
        parser.add_argument(
            "--list", type=Path, dest="list_file", help="Offer a list of URLs/paths"
        )
        parser.add_argument("--s3", metavar="s3://BUCKET/PREFIX", help="Offer every object there")
        parser.add_argument(
            "--post-grids", action="store_true", help="Post filtering grids of the pooled photos"
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        project = find_project(options["project"])
        try:
            self._run(project, options)
        except (DomainError, flickr.FlickrError) as error:
            raise CommandError(str(getattr(error, "reason", error))) from None
        self._summary(project)

    def _run(self, project, options) -> None:  # type: ignore[no-untyped-def]
        if options["plan"]:
            kinds = [k.strip() for k in options["plan"].split(",") if k.strip()]
            unknown = collection.plan_kinds_unknown(kinds)
            if unknown:
                *first, last = collection.PLAN_KINDS
                raise CommandError(f"--plan takes {', '.join(first)} and {last}, not {unknown}")
            added = collection.collection_queries_plan(project=project, kinds=kinds)
            self.stdout.write(f"Planned {added} new quer{'y' if added == 1 else 'ies'}.")
        if options["fallback"]:
            added = collection.collection_queries_plan_fallback(project=project)
            self.stdout.write(
                f"Planned {added} single-category fallback quer{'y' if added == 1 else 'ies'}."
            )
        bar = tqdm(unit="photo", disable=options["no_progress"], file=self.stderr)
        on_photo = lambda outcome: bar.update(1)  # noqa: E731
        try:
            if options["flickr"]:
                run_kinds = options["kinds"].split(",") if options["kinds"] else None
                runs = flickr.queries_run(
                    project=project, client=flickr.FlickrClient.from_settings(),
                    max_queries=options["flickr"], limit=options["per_query"], kinds=run_kinds,
                    on_photo=on_photo,
                )  # fmt: skip
                for run in runs:
                    if run.error:
                        bar.write(f"query {run.query.text!r}: {run.error}", file=self.stderr)
                self.stdout.write(f"Ran {len(runs)} Flickr quer{'y' if len(runs) == 1 else 'ies'}.")
            sources: list[tuple[str, Any, Callable[[Any], Iterable[CandidateOffer]]]] = [
                (SearchQuery.Kind.FOLDER, options["folder"], local.offers_from_folder),
                (SearchQuery.Kind.URLS, options["list_file"], local.offers_from_list),
                (SearchQuery.Kind.S3, options["s3"], local.offers_from_s3),
            ]
            for kind, location, offers in sources:
                if location:
                    source = local.source_run(
                        project=project, kind=kind, location=str(location),
                        offers=offers(location), on_photo=on_photo,
                    )  # fmt: skip
                    self.stdout.write(f"{kind} {location}: {_outcomes(source.outcomes)}")
        finally:
            bar.close()
        removed = collection.collection_near_duplicates_group(project=project)
        if removed:
            self.stdout.write(f"Removed {removed} near-duplicate(s) from the pool.")
        if options["post_grids"]:
            # The pool was grouped just above: grouping again would find nothing new.
            grids = collection.collection_grids_post(
                project=project, include_partial=True, group_duplicates=False
            )
            self.stdout.write(f"Posted {len(grids)} filtering grid(s).")

    def _summary(self, project) -> None:  # type: ignore[no-untyped-def]
        s = collection.collection_summary(project=project)
        fetched = sum(s[status] for status in collection.YIELDED)
        self.stdout.write(
            self.style.SUCCESS(
                f"{project.name}: {s['queries_run']}/{s['queries']} queries run; "
                f"{fetched} candidates stored ({s['pooled']} pooled, {s['in_grid']} in grids, "
                f"{s['accepted']} accepted, {s['iconic']} iconic, {s['duplicate']} duplicates); "
                f"{s['capped']} over the photographer cap, {s['failed']} failed; "
                f"{s['open_grids']} open grid(s)."
            )
        )


def _outcomes(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items())) or "nothing new"
