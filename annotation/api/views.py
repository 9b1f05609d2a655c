"""REST API v1. Each view validates input, calls one service or selector, serialises."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api import serializers as s
from annotation.api.permissions import IsAdminRole
from annotation.api.throttles import TokenAccountThrottle, TokenAddressThrottle
from annotation.errors import BodyTooLarge, DomainError, NotFound, SignInLocked
from annotation.models import Image, Membership, Project
from annotation.selectors.access import project_for, projects_for
from annotation.selectors.work import projects_with_counts, stage_summaries_for
from annotation.services import mturk_workers, task_engine
from annotation.services.images import SourceMetadata, image_ingest
from annotation.services.membership import membership_add, membership_remove
from annotation.services.people import profile_for
from annotation.services.projects import project_create
from annotation.stages.collection import collection_splits_assign


def signed_in(request: Request) -> User:
    """The signed-in person; every view here requires authentication (settings)."""
    return cast(User, request.user)


class MeApi(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request: Request) -> Response:
        profile = profile_for(signed_in(request))
        data = {
            "id": request.user.pk,
            "username": request.user.get_username(),
            "role": profile.role,
            "blocked": profile.blocked,
        }
        return Response(s.MeSerializer(data).data)


class StageListApi(APIView):
    @extend_schema(responses=s.StageSummarySerializer(many=True))
    def get(self, request: Request) -> Response:
        summaries = stage_summaries_for(signed_in(request))
        return Response(s.StageSummarySerializer(summaries, many=True).data)


class ProjectListCreateApi(generics.ListAPIView):
    serializer_class = s.ProjectSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            projects_with_counts()
            .filter(pk__in=projects_for(self.request.user).values("pk"))
            .prefetch_related("taxonomy__categories", "taxonomy__scenes")
        )

    def get_permissions(self):  # type: ignore[no-untyped-def]
        if self.request.method == "POST":
            return [IsAuthenticated(), IsAdminRole()]
        return super().get_permissions()

    @extend_schema(request=s.ProjectCreateSerializer, responses={201: s.ProjectSerializer})
    def post(self, request: Request) -> Response:
        form = s.ProjectCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        project = project_create(
            name=data["name"],
            description=data["description"],
            template=data.get("template"),
            categories=data.get("categories"),
            created_by=signed_in(request),
        )
        project = self.get_queryset().get(id=project.id)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(generics.RetrieveAPIView):
    serializer_class = s.ProjectSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            projects_with_counts()
            .filter(pk__in=projects_for(self.request.user).values("pk"))
            .prefetch_related("taxonomy__categories", "taxonomy__scenes")
        )


class ProjectImageListApi(generics.ListAPIView):
    serializer_class = s.ImageSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        project = project_for(self.request.user, self.kwargs["pk"])
        return Image.objects.filter(project=project).order_by("id")

    def get_permissions(self):  # type: ignore[no-untyped-def]
        if self.request.method == "POST":
            return [IsAuthenticated(), IsAdminRole()]
        return super().get_permissions()

    @extend_schema(
        request={"multipart/form-data": s.ImageUploadSerializer},
        responses={
            201: s.ImageSerializer,
            400: OpenApiResponse(description="rejected, with the reason"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        """Upload one photo. A refused photo answers 400 with the reason, and is recorded."""
        # Capped from the declared length before the body is received, then by the file's
        # size before it is read into memory (image_ingest takes the bytes).
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > settings.MAX_IMAGE_BYTES + 2**20:
            raise BodyTooLarge(
                f"the upload is {int(declared)} bytes; a photo may be at most "
                f"{settings.MAX_IMAGE_BYTES} bytes"
            )
        project = get_object_or_404(Project, pk=pk)
        form = s.ImageUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        upload = data["file"]
        if upload.size is not None and upload.size > settings.MAX_IMAGE_BYTES:
            raise DomainError(
                f"{upload.name}: {upload.size} bytes, more than the limit of "
                f"{settings.MAX_IMAGE_BYTES}"
            )
        meta = SourceMetadata(
            source=Image.Source.UPLOAD,
            source_ref=f"upload:{upload.name}",
            file_name=upload.name,
            original_url=data["original_url"],
            photographer=data["photographer"],
            date_taken=data["date_taken"],
            license_name=data["license_name"],
            license_url=data["license_url"],
        )
        result = image_ingest(project=project, content=upload.read(), meta=meta)
        if result.rejection is not None:
            rejection = result.rejection
            return Response(
                {"error": rejection.reason, "detail": f"{upload.name}: {rejection.detail}"},
                status=status.HTTP_409_CONFLICT
                if rejection.reason == "duplicate"
                else status.HTTP_400_BAD_REQUEST,
            )
        image = result.image
        assert image is not None  # stored when not rejected
        # Every image needs a split, with collection's grouping (§2.6).
        collection_splits_assign(project=project)
        image.refresh_from_db(fields=["split"])
        return Response(s.ImageSerializer(image).data, status=status.HTTP_201_CREATED)


class TaskNextApi(APIView):
    throttle_scope = "lease"

    @extend_schema(
        request=s.NextTaskRequestSerializer,
        responses={
            200: s.AssignmentSerializer,
            204: OpenApiResponse(description="no work for you now"),
        },
    )
    def post(self, request: Request) -> Response:
        """Lease the next task you have not answered (stage and project optional)."""
        form = s.NextTaskRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        mturk_workers.refuse_free_leasing(signed_in(request))
        project = None
        if "project" in form.validated_data:
            # A project the person is not a member of answers as if it did not exist.
            project = projects_for(request.user).filter(pk=form.validated_data["project"]).first()
            if project is None:
                raise DomainError(
                    f"project {form.validated_data['project']} does not exist or you are not "
                    "a member of it (ask an admin to add you)"
                )
        assignment = task_engine.task_next_for_worker(
            worker=signed_in(request), stage=form.validated_data.get("stage"), project=project
        )
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.AssignmentSerializer(assignment, context={"request": request}).data)


class AssignmentSubmitApi(APIView):
    throttle_scope = "submit"

    @extend_schema(request=s.SubmitSerializer, responses=s.AssignmentSerializer)
    def post(self, request: Request, pk: int) -> Response:
        """Answer a leased task. Send a fresh idempotency_key per answer; retrying with the
        same key returns the first result and counts once."""
        # An MTurk-only account answers only through its HIT's endpoint, which links the answer
        # to the MTurk assignment (annotation/services/mturk_workers.py).
        mturk_workers.refuse_free_leasing(signed_in(request))
        form = s.SubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        assignment = task_engine.assignment_submit(
            assignment_id=pk,
            worker=signed_in(request),
            answer=form.validated_data["answer"],
            key=form.validated_data["idempotency_key"],
            time_spent_seconds=form.validated_data.get("time_spent_seconds"),
        )
        return Response(s.AssignmentSerializer(assignment, context={"request": request}).data)


class AssignmentReleaseApi(APIView):
    @extend_schema(request=None, responses=s.AssignmentSerializer)
    def post(self, request: Request, pk: int) -> Response:
        """Give a leased task back to the pool without answering."""
        mturk_workers.refuse_free_leasing(signed_in(request))
        assignment = task_engine.assignment_release(assignment_id=pk, worker=signed_in(request))
        return Response(s.AssignmentSerializer(assignment, context={"request": request}).data)


class TokenObtainApi(ObtainAuthToken):
    """POST username and password, get the API token. Sign-in failures count against the
    account and the address (django-axes); requests themselves are throttled per address
    and per account named (settings.THROTTLE_RATES)."""

    throttle_classes = [TokenAddressThrottle, TokenAccountThrottle]

    @extend_schema(
        responses={
            200: OpenApiResponse(description='{"token": "..."}'),
            400: OpenApiResponse(description="wrong username or password"),
            429: OpenApiResponse(description="too many failed sign-ins or token requests"),
        }
    )
    def post(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            # django-axes refused the sign-in before the password was checked.
            if getattr(request, "axes_locked_out", False):
                raise SignInLocked(
                    "too many failed sign-ins for this account or from this address; try "
                    f"again after {settings.AXES_COOLOFF_TIME * 60:g} minutes or ask an admin"
                ) from None
            raise


class MembershipSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(
        choices=Membership.Role.choices, default=Membership.Role.ANNOTATOR
    )
    added_at = serializers.DateTimeField(read_only=True)


class ProjectMemberListApi(APIView):
    """Admins list a project's members and add one (or change their project role)."""

    permission_classes = [IsAdminRole]

    @extend_schema(responses=MembershipSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        project = project_for(request.user, pk)
        members = project.memberships.select_related("user").order_by("user__username")
        return Response(MembershipSerializer(members, many=True).data)

    @extend_schema(request=MembershipSerializer, responses={201: MembershipSerializer})
    def post(self, request: Request, pk: int) -> Response:
        project = project_for(request.user, pk)
        form = MembershipSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username = form.validated_data["user"]["username"]
        user = User.objects.filter(username=username).first()
        if user is None:
            raise NotFound(f"no person named {username!r}; create them with create_worker")
        membership = membership_add(project=project, user=user, role=form.validated_data["role"])
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class ProjectMemberApi(APIView):
    """Admins take a person off a project; tasks they hold there go back to the pool."""

    permission_classes = [IsAdminRole]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int, username: str) -> Response:
        project = project_for(request.user, pk)
        user = User.objects.filter(username=username).first()
        if user is None:
            raise NotFound(f"no person named {username!r}")
        membership_remove(project=project, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)
