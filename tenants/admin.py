from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from tenants.models import BACK_OFFICE_ROLES, Membership, Tenant
from tenants.roles import is_tenant_admin, user_tenant

User = get_user_model()

admin.site.unregister(User)
admin.site.unregister(Group)


class TenantForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = "__all__"

    def clean_settings(self):
        value = self.cleaned_data.get("settings")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_('As configurações devem ser um objeto JSON, por exemplo {"chave": "valor"}.'))
        return value


@admin.register(Tenant)
class TenantAdmin(ModelAdmin):
    """Superusers manage every tenant; a tenant admin sees and edits only their own."""

    form = TenantForm
    list_display = ("name", "slug", "active", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        tenant = user_tenant(request.user)
        return queryset.filter(pk=tenant.pk) if tenant and is_tenant_admin(request.user) else queryset.none()

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.is_superuser else ("slug", "active")

    def has_module_permission(self, request):
        return is_tenant_admin(request.user) and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class MembershipInline(StackedInline):
    model = Membership
    can_delete = False
    min_num = 1
    max_num = 1
    fields = ("tenant", "role", "threecplus_agent_id")

    def get_fields(self, request, obj=None):
        return self.fields if request.user.is_superuser else ("role", "threecplus_agent_id")

    def has_add_permission(self, request, obj=None):
        return is_tenant_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_tenant_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_tenant_admin(request.user)


@admin.register(User)
class UserAdmin(DjangoUserAdmin, ModelAdmin):
    """Tenant admins create their tenant's users and give them a role; nothing more."""

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    inlines = [MembershipInline]
    list_display = ("username", "first_name", "last_name", "email", "display_role", "is_active")
    list_filter = ("is_active", "membership__role")
    list_select_related = ("membership",)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("username", "first_name", "last_name", "email", "password1", "password2")}),)
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return (
            (None, {"fields": ("username", "password")}),
            (_("Dados pessoais"), {"fields": ("first_name", "last_name", "email")}),
            (_("Acesso"), {"fields": ("is_active", "last_login", "date_joined")}),
        )

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.is_superuser else ("last_login", "date_joined")

    @admin.display(description=_("papel"), ordering="membership__role")
    def display_role(self, obj):
        membership = getattr(obj, "membership", None)
        return membership.get_role_display() if membership else "—"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(membership__tenant=user_tenant(request.user), is_superuser=False)

    def has_module_permission(self, request):
        return request.user.is_staff and is_tenant_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request) and obj != request.user

    def save_formset(self, request, form, formset, change):
        if formset.model is Membership and not request.user.is_superuser:
            for inline_form in formset.forms:
                inline_form.instance.tenant = user_tenant(request.user)
        super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        membership = Membership.objects.filter(user=user).first()
        # Only back-office roles enter the admin; operators work on the atendimento pages.
        staff = user.is_superuser or (membership is not None and membership.role in BACK_OFFICE_ROLES)
        if user.is_staff != staff:
            User.objects.filter(pk=user.pk).update(is_staff=staff)
