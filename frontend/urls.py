from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import evaluation_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("me/record/", views.my_record, name="my-record"),
    path("evaluation/", evaluation_views.release_list, name="releases"),
    path(
        "evaluation/<slug:slug>/", evaluation_views.release_leaderboard, name="release-leaderboard"
    ),
]
