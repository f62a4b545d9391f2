from tenants.models import BACK_OFFICE_ROLES, Membership, Role


def get_membership(user) -> Membership | None:
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_cached_membership"):
        user._cached_membership = (
            Membership.objects.select_related("tenant").filter(user=user, tenant__active=True).first()
        )
    return user._cached_membership


def user_tenant(user):
    membership = get_membership(user)
    return membership.tenant if membership else None


def user_role(user) -> str | None:
    membership = get_membership(user)
    return membership.role if membership else None


def is_tenant_admin(user) -> bool:
    return user.is_superuser or user_role(user) == Role.ADMIN


def is_back_office(user) -> bool:
    return user.is_superuser or user_role(user) in BACK_OFFICE_ROLES
