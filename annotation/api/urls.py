from django.urls import path

from annotation.api import evaluation, project_settings, views

app_name = "api"

urlpatterns = [
    path("auth/token/", views.TokenObtainApi.as_view(), name="token"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("stages/", views.StageListApi.as_view(), name="stages"),
    path("projects/", views.ProjectListCreateApi.as_view(), name="projects"),
    path("projects/<int:pk>/", views.ProjectDetailApi.as_view(), name="project"),
    path("projects/<int:pk>/images/", views.ProjectImageListApi.as_view(), name="project-images"),
    path(
        "projects/<int:pk>/settings/",
        project_settings.ProjectSettingsApi.as_view(),
        name="project-settings",
    ),
    path(
        "projects/<int:pk>/settings/preset/",
        project_settings.ProjectPresetApi.as_view(),
        name="project-settings-preset",
    ),
    path(
        "projects/<int:pk>/members/", views.ProjectMemberListApi.as_view(), name="project-members"
    ),
    path(
        "projects/<int:pk>/members/<str:username>/",
        views.ProjectMemberApi.as_view(),
        name="project-member",
    ),
    path("tasks/next/", views.TaskNextApi.as_view(), name="task-next"),
    path(
        "assignments/<int:pk>/submit/",
        views.AssignmentSubmitApi.as_view(),
        name="assignment-submit",
    ),
    path(
        "assignments/<int:pk>/release/",
        views.AssignmentReleaseApi.as_view(),
        name="assignment-release",
    ),
    path("releases/", evaluation.ReleaseListApi.as_view(), name="releases"),
    path(
        "releases/<slug:slug>/leaderboard/", evaluation.LeaderboardApi.as_view(), name="leaderboard"
    ),
    path(
        "releases/<slug:slug>/submissions/",
        evaluation.SubmissionCreateApi.as_view(),
        name="submission-create",
    ),
    path("submissions/<int:pk>/", evaluation.SubmissionDetailApi.as_view(), name="submission"),
]
