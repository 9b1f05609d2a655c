from rest_framework.permissions import BasePermission

from annotation.services.people import is_admin, is_expert


class IsAdminRole(BasePermission):
    message = "only admins may do this"

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return is_admin(user)


class IsExpertRole(BasePermission):
    """Experts and admins: they review gold and references, which no annotator may see."""

    message = "only experts and admins may do this"

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return is_expert(user)
