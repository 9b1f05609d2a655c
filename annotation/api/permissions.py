from rest_framework.permissions import BasePermission

from annotation.services.people import is_admin


class IsAdminRole(BasePermission):
    message = "only admins may do this"

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return is_admin(user)
