"""The login backend reads the user with their membership in one statement, and keeps get_membership's rule: the
membership of an inactive tenant is no membership."""

from tenants.backends import TenantModelBackend
from tenants.roles import get_membership


def test_the_user_comes_with_their_membership(tenant_admin, tenant, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = TenantModelBackend().get_user(tenant_admin.pk)
        assert get_membership(user).tenant == tenant


def test_an_inactive_tenant_gives_no_membership(tenant_admin, tenant):
    tenant.active = False
    tenant.save()
    user = TenantModelBackend().get_user(tenant_admin.pk)
    assert get_membership(user) is None


def test_an_inactive_user_is_not_read(tenant_admin):
    tenant_admin.is_active = False
    tenant_admin.save()
    assert TenantModelBackend().get_user(tenant_admin.pk) is None


def test_permissions_come_in_one_statement(tenant_admin, django_assert_num_queries):
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.create(name="g")
    group.permissions.add(Permission.objects.get(codename="view_tenant"))
    tenant_admin.groups.add(group)
    tenant_admin.user_permissions.add(Permission.objects.get(codename="change_tenant"))
    user = TenantModelBackend().get_user(tenant_admin.pk)
    with django_assert_num_queries(1):
        assert user.has_perm("tenants.view_tenant") and user.has_perm("tenants.change_tenant")
        assert not user.has_perm("tenants.delete_tenant")
