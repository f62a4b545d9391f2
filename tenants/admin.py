import functools
import json

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.http import Http404
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from import_export import fields, resources
from unfold.admin import ModelAdmin, StackedInline
from unfold.contrib.filters.admin import ChoicesDropdownFilter, RangeDateTimeFilter
from unfold.contrib.import_export.forms import ExportForm
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import UnfoldAdminJSONSchemaWidget

from common.formats import EXPORT_FORMATS
from common.parsing import parse_id
from tenants import audit, lockout, services, two_factor
from tenants.admin_base import (
    MissingIsNotFoundMixin,
    ReadOnlyMixin,
    SelectedIdsMixin,
    TenantExportMixin,
    TenantRelatedFilter,
    TenantScopedAdmin,
)
from tenants.models import AuditEvent, Membership, Role, Tenant
from tenants.roles import is_tenant_admin, user_tenant
from tenants.secrets import is_mask
from tenants.settings_schema import clean_settings, fetching, masked, schema_properties, secret_keys, sections

User = get_user_model()

admin.site.unregister(User)
admin.site.unregister(Group)
# A user's second factor is seen and reset on the user's page, within the tenant; django-otp's own device pages
# would list every tenant's devices (and their secrets).
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


def editor_schema() -> dict:
    """The JSON editor's schema: the keys the registered sections describe; any other key is allowed too."""
    return {
        "type": "object",
        "title": "Configurações",
        "properties": schema_properties(),
        "additionalProperties": True,
    }


class SettingsJSONWidget(UnfoldAdminJSONSchemaWidget):
    """unfold's JSON editor, started by our script (Portuguese, labels as written) instead of unfold's."""

    template_name = "tenants/settings_json_widget.html"

    class Media:
        extend = False  # our script needs unfold's theme loaded first
        js = ["unfold/js/jedison/jedison.js", "unfold/js/jedison/jedison.unfold.js", "tenants/settings_editor.js"]
        css = {"all": ["tenants/settings_editor.css"]}

    def get_context(self, name, value, attrs):
        self.attrs["schema"] = editor_schema()  # unfold's widget takes it out of attrs at each render
        return super().get_context(name, value, attrs)


class SettingsJSONField(forms.JSONField):
    """JSON whose nesting is too deep for the parser is an error on the field, not a 500."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise ValidationError(_("O JSON tem níveis aninhados demais."), code="invalid") from None

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)  # shown back as typed, with the error

    def has_changed(self, initial, data):
        try:
            return super().has_changed(initial, data)
        except RecursionError:
            return True


class TenantForm(forms.ModelForm):
    """The settings object, editable as JSON, with the keys of each registered section also as their own fields.

    A secret is never sent back to the browser: its field starts empty (empty keeps the stored secret) and the
    JSON shows it masked (a masked value also keeps it).
    """

    class Meta:
        model = Tenant
        fields = "__all__"
        widgets = {"settings": SettingsJSONWidget}
        field_classes = {"settings": SettingsJSONField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.stored_settings
        self.initial["settings"] = masked(stored)
        self.setting_fields = []
        for section in sections():
            fields = section.form_fields()
            self.fields.update(fields)
            self.setting_fields.extend(fields)
            section.prepare_form(self, stored)
        self.secret_fields = set(secret_keys())

    def clean(self):
        """One pass over every field: a bad value anywhere (a section's field, the JSON) never hides the others'
        errors, and each message names the field by its label."""
        cleaned = super().clean()
        stored = self.instance.stored_settings
        new = cleaned.get("settings") if "settings" not in self.errors else dict(stored)
        if new is None:
            new = {}
        if not isinstance(new, dict):
            self.add_error("settings", _('As configurações devem ser um objeto JSON, por exemplo {"chave": "valor"}.'))
            new = dict(stored)
        new = dict(new)
        failed, typed_in_field = set(), set()
        for key in self.setting_fields:
            if key in self.errors:  # the field's own check failed: its message is shown, the rest still checked
                failed.add(key)
                continue
            field_value, json_value = cleaned.get(key), new.get(key)
            if key in self.secret_fields:
                # An empty field and a masked JSON value both mean "keep the stored secret".
                field_edit = bool(field_value)
                json_edit = json_value not in (None, "") and not is_mask(json_value) and json_value != stored.get(key)
            else:
                # Changed from what the page showed (a field whose inputs were not posted is not changed).
                field_edit = key in self.changed_data and _as_text(field_value) != _as_text(
                    self.initial.get(key, stored.get(key))
                )
                json_edit = _as_text(json_value) != _as_text(stored.get(key))
            if field_edit and json_edit and _as_text(field_value) != _as_text(json_value):
                message = _(
                    "%(field)s foi alterado no campo e no JSON com valores diferentes: altere só um dos dois."
                ) % {"field": self.fields[key].label}
                self.add_error(key, message)
                self.add_error("settings", message)
                failed.add(key)
            elif field_edit:
                new[key] = field_value
                typed_in_field.add(key)
        for key in failed:  # checked as stored, so only the other fields' problems are added
            if key in stored:
                new[key] = stored[key]
            else:
                new.pop(key, None)
        try:
            result = clean_settings(new, stored=stored)
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                if field in failed:
                    continue
                if field in self.fields and field != "settings":
                    self.add_error(field, messages_)
                    if field in typed_in_field:
                        continue  # shown beside the field; a value from the JSON is shown there too
                label = setting_label(field)
                self.add_error("settings", [f"{label}: {message}" if label else message for message in messages_])
        else:
            if not self.errors:
                cleaned["settings"] = result
        return cleaned


def setting_label(key: str) -> str:
    """What the page calls a setting (its field's label, else the editor's title); "" for a key it does not know,
    whose message then stands alone rather than quoting the JSON key."""
    for section in sections():
        field = section.form_fields().get(key)
        if field is not None:
            return str(field.label)
    return str(schema_properties().get(key, {}).get("title", ""))


def _as_text(value) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value).strip()


@admin.register(Tenant)
class TenantAdmin(SelectedIdsMixin, MissingIsNotFoundMixin, ModelAdmin):
    """Superusers manage every tenant; a tenant admin sees and edits only their own."""

    form = TenantForm
    list_display = ("name", "slug", "active", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def get_fieldsets(self, request, obj=None):
        return (
            (None, {"fields": ("name", "slug", "active")}),
            *(
                (section.title, {"fields": (*section.form_fields(), *((shown,) for shown in section.displays()))})
                for section in sections()
                if section.form_fields() or section.displays()
            ),
            (_("Configurações (JSON)"), {"fields": ("settings",)}),
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The admin builds and saves the form inside one transaction; what the sections read from other systems
        # (3C Plus's campaigns) is read before it, so no network call ever holds the database.
        tenant = None
        if object_id is not None and request.method in ("GET", "POST"):
            tenant = self.get_queryset(request).filter(pk=parse_id(object_id)).first()
        if tenant is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with fetching(tenant):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The sections' fields are not the model's: TenantForm adds them itself.
        section_fields = {key for section in sections() for key in section.form_fields()}
        fields = kwargs.get("fields") or flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [field for field in fields if field not in section_fields]
        return super().get_form(request, obj, change, **kwargs)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        tenant = user_tenant(request.user)
        return queryset.filter(pk=tenant.pk) if tenant and is_tenant_admin(request.user) else queryset.none()

    def save_model(self, request, obj, form, change):
        services.save_tenant(obj, request.user)
        for section in sections():
            for warning in section.warnings(form, obj.stored_settings):
                messages.warning(request, warning)

    def get_readonly_fields(self, request, obj=None):
        shown = tuple(shown for section in sections() for shown in section.displays())
        return shown if request.user.is_superuser else ("slug", "active", *shown)

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if request.user.is_superuser else {}

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

    def get_urls(self):
        return [
            path(
                "<int:pk>/rotacionar-webhook/",
                self.admin_site.admin_view(self.rotate_webhook_view),
                name="tenants_tenant_rotate_webhook",
            ),
            *(url for section in sections() for url in section.admin_urls(self)),
            *super().get_urls(),
        ]

    def rotate_webhook_view(self, request, pk):
        tenant = self.get_queryset(request).filter(pk=pk).first()
        if request.method != "POST" or tenant is None or not self.has_change_permission(request, tenant):
            raise Http404
        services.rotate_webhook_secret(tenant, request.user)
        messages.success(request, _("Novo endereço de webhook gerado: atualize-o no 3C Plus."))
        return redirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))


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
class UserAdmin(SelectedIdsMixin, MissingIsNotFoundMixin, DjangoUserAdmin, ModelAdmin):
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
        second_factor = (_("Segundo fator"), {"fields": ("second_factor", "sign_in_lock")})
        if request.user.is_superuser:
            return (*super().get_fieldsets(request, obj), second_factor)
        return (
            (None, {"fields": ("username", "password")}),
            (_("Dados pessoais"), {"fields": ("first_name", "last_name", "email")}),
            (_("Acesso"), {"fields": ("is_active", "last_login", "date_joined")}),
            second_factor,
        )

    def get_readonly_fields(self, request, obj=None):
        shown = ("second_factor", "sign_in_lock")
        return shown if request.user.is_superuser else ("last_login", "date_joined", *shown)

    @admin.display(description=_("bloqueio de entrada"))
    def sign_in_lock(self, obj):
        attempts = list(lockout.locked_attempts(obj)[:5]) if obj is not None else []
        return render_to_string("admin/tenants/user/_sign_in_lock.html", {"user": obj, "attempts": attempts})

    @admin.display(description=_("aplicativo autenticador"))
    def second_factor(self, obj):
        device = TOTPDevice.objects.filter(user=obj, confirmed=True).first() if obj is not None else None
        return render_to_string("admin/tenants/user/_second_factor.html", {"user": obj, "device": device})

    def get_urls(self):
        return [
            path(
                "<int:pk>/redefinir-segundo-fator/",
                self.admin_site.admin_view(self.reset_second_factor_view),
                name="auth_user_reset_second_factor",
            ),
            path(
                "<int:pk>/desbloquear-entrada/",
                self.admin_site.admin_view(self.unlock_view),
                name="auth_user_unlock",
            ),
            *super().get_urls(),
        ]

    def unlock_view(self, request, pk):
        """A tenant admin lifts a user's lockout (too many wrong passwords); only users of their own tenant."""
        user = self.get_queryset(request).filter(pk=pk).first()
        if request.method != "POST" or user is None or not self.has_change_permission(request, user):
            raise Http404
        if lockout.unlock(user, request.user):
            messages.success(request, _("%(user)s pode entrar de novo.") % {"user": user.get_username()})
        else:
            messages.info(request, _("%(user)s não estava bloqueado.") % {"user": user.get_username()})
        return redirect(reverse("admin:auth_user_change", args=[user.pk]))

    def reset_second_factor_view(self, request, pk):
        """A tenant admin removes a user's second factor (a lost phone); only users of their own tenant."""
        user = self.get_queryset(request).filter(pk=pk).first()
        if request.method != "POST" or user is None or not self.has_change_permission(request, user):
            raise Http404
        if two_factor.reset(user, request.user):
            messages.success(
                request,
                _("Segundo fator de %(user)s removido: na próxima entrada, só a senha (ou um novo cadastro).")
                % {"user": user.get_username()},
            )
        else:
            messages.info(request, _("%(user)s não tinha segundo fator.") % {"user": user.get_username()})
        return redirect(reverse("admin:auth_user_change", args=[user.pk]))

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
        services.sync_staff_flag(form.instance)


@functools.cache
def audit_labels() -> dict:
    """What the trail calls a recorded field: the settings editor's titles, else the model field's name."""
    labels = {}
    for model in apps.get_models():
        if model._meta.app_label in ("core", "attendance", "dialer", "tenants"):
            for field in model._meta.concrete_fields:
                labels.setdefault(field.name, field.verbose_name)
    labels.update({key: field.label for section in sections() for key, field in section.form_fields().items()})
    labels.update({key: spec["title"] for key, spec in schema_properties().items()})
    return labels


class AuditEventResource(resources.ModelResource):
    """The audit trail as a spreadsheet: the same rows the list shows, filters applied."""

    at = fields.Field(column_name="quando", attribute="at")
    user = fields.Field(column_name="usuario", attribute="user__username")
    action = fields.Field(column_name="acao", attribute="get_action_display")
    object_type = fields.Field(column_name="tipo", attribute="object_type")
    object_id = fields.Field(column_name="id", attribute="object_id")
    object_repr = fields.Field(column_name="registro", attribute="object_repr")
    changes = fields.Field(column_name="alteracoes")

    class Meta:
        model = AuditEvent
        fields = ("at", "user", "action", "object_type", "object_id", "object_repr", "changes")

    def dehydrate_changes(self, event):
        return "; ".join(
            f"{label}: {before or '—'} → {after or '—'}"
            for label, before, after in audit.readable(event.changes, audit_labels())
        )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, TenantExportMixin, TenantScopedAdmin):
    """Tenant admins: who changed settings, creditor rules, agreements, qualifications, and who sent what to
    the dialer. Who opened which client is in "Acessos a clientes"."""

    view_roles = frozenset({Role.ADMIN})
    edit_roles = frozenset()
    resource_classes = [AuditEventResource]
    export_form_class = ExportForm
    export_formats = EXPORT_FORMATS
    list_display = ("at", "user", "action", "object_repr", "display_changes")
    list_filter = (
        ("action", ChoicesDropdownFilter),
        ("user", TenantRelatedFilter),
        ("at", RangeDateTimeFilter),
    )
    list_filter_submit = True
    list_select_related = ("user",)
    search_fields = ("object_repr", "object_id", "user__username")
    show_full_result_count = False

    def has_module_permission(self, request):
        return request.user.is_superuser or (is_tenant_admin(request.user) and request.user.is_staff)

    @admin.display(description=_("alterações (antes → depois)"))
    def display_changes(self, obj):
        changes = audit.readable(obj.changes, audit_labels())
        return render_to_string("admin/tenants/auditevent/_changes.html", {"changes": changes})
