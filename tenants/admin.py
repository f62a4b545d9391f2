import functools

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources
from unfold.admin import ModelAdmin, StackedInline
from unfold.contrib.filters.admin import ChoicesDropdownFilter, RangeDateTimeFilter
from unfold.contrib.import_export.forms import ExportForm
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import UnfoldAdminJSONSchemaWidget, UnfoldAdminPasswordWidget, UnfoldAdminTextInputWidget

from common.formats import EXPORT_FORMATS
from dialer.services import test_connection
from tenants import audit
from tenants.admin_base import (
    MissingIsNotFoundMixin,
    ReadOnlyMixin,
    TenantExportMixin,
    TenantRelatedFilter,
    TenantScopedAdmin,
)
from tenants.models import BACK_OFFICE_ROLES, AuditEvent, Membership, Role, Tenant, new_webhook_secret
from tenants.roles import is_tenant_admin, user_tenant
from tenants.secrets import is_mask, mask
from tenants.settings_schema import AGENT_TOKEN, API_KEY, BASE_URL, CAMPAIGN, DOMAIN, clean_settings, masked

User = get_user_model()

admin.site.unregister(User)
admin.site.unregister(Group)


SETTINGS_SCHEMA = {
    "type": "object",
    "title": "Configurações",
    "properties": {
        API_KEY: {"type": "string", "title": "Token do 3C Plus (mascarado; troque colando um novo)"},
        DOMAIN: {"type": "string", "title": "Domínio do 3C Plus"},
        CAMPAIGN: {"type": "integer", "title": "Campanha padrão (ID)"},
        BASE_URL: {"type": "string", "title": "URL da API (opcional)"},
        AGENT_TOKEN: {"type": "string", "title": "Token de agente (mascarado)"},
    },
    "additionalProperties": True,
}


class SettingsJSONWidget(UnfoldAdminJSONSchemaWidget):
    """unfold's JSON editor, started by our script (Portuguese, labels as written) instead of unfold's."""

    template_name = "tenants/settings_json_widget.html"

    class Media:
        extend = False  # our script needs unfold's theme loaded first
        js = ["unfold/js/jedison/jedison.js", "unfold/js/jedison/jedison.unfold.js", "tenants/settings_editor.js"]
        css = {"all": ["tenants/settings_editor.css"]}


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
    """The settings object, editable as JSON, with the 3C Plus keys also as their own fields.

    The token is never sent back to the browser: the password field starts empty (empty keeps the
    stored token) and the JSON shows it masked (a masked value also keeps it).
    """

    threecplus_domain = forms.CharField(
        label=_("Domínio"),
        required=False,
        widget=UnfoldAdminTextInputWidget,
        help_text=_(
            'O subdomínio da empresa no 3C Plus: "minhaempresa" para minhaempresa.3c.plus. '
            "Uma URL completa também serve."
        ),
    )
    threecplus_api_key = forms.CharField(
        label=_("Token da API"),
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    threecplus_campaign_id = forms.CharField(
        label=_("Campanha padrão (ID)"), required=False, widget=UnfoldAdminTextInputWidget
    )
    threecplus_base_url = forms.CharField(
        label=_("URL da API (opcional)"),
        required=False,
        widget=UnfoldAdminTextInputWidget,
        help_text=_("Substitui o domínio: o sandbox do 3C Plus ou um ambiente de testes."),
    )
    threecplus_agent_token = forms.CharField(
        label=_("Token de agente (qualificação)"),
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "O 3C Plus só aceita a qualificação de uma ligação com a credencial do agente: um token de serviço "
            "com papel de agente, enviado junto com o ID de agente de cada operador (cadastrado no usuário)."
        ),
    )

    SETTING_FIELDS = (DOMAIN, API_KEY, CAMPAIGN, BASE_URL, AGENT_TOKEN)

    class Meta:
        model = Tenant
        fields = "__all__"
        widgets = {"settings": SettingsJSONWidget(attrs={"schema": SETTINGS_SCHEMA})}
        field_classes = {"settings": SettingsJSONField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.settings or {}
        self.initial["settings"] = masked(stored)
        for key in (DOMAIN, CAMPAIGN, BASE_URL):
            self.initial[key] = stored.get(key, "")
        for key in (API_KEY, AGENT_TOKEN):
            current = mask(stored.get(key))
            self.fields[key].help_text = (
                _("Atual: %(mask)s. Deixe em branco para manter; cole um novo para trocar.") % {"mask": current}
                if current
                else _("Cole o token de serviço gerado no 3C Plus (mostrado só uma vez por lá).")
            ) + (" " + str(self.fields[key].help_text) if key == AGENT_TOKEN else "")

    def clean(self):
        cleaned = super().clean()
        if "settings" in self.errors:
            return cleaned
        new = cleaned.get("settings")
        if new is None:
            new = {}
        if not isinstance(new, dict):
            self.add_error("settings", _('As configurações devem ser um objeto JSON, por exemplo {"chave": "valor"}.'))
            return cleaned
        new = dict(new)
        stored = self.instance.settings or {}
        for key in self.SETTING_FIELDS:
            field_value, json_value = cleaned.get(key), new.get(key)
            if key in (API_KEY, AGENT_TOKEN):
                # An empty field and a masked JSON value both mean "keep the stored token".
                field_edit = bool(field_value)
                json_edit = json_value not in (None, "") and not is_mask(json_value) and json_value != stored.get(key)
            else:
                field_edit = _as_text(field_value) != _as_text(stored.get(key))
                json_edit = _as_text(json_value) != _as_text(stored.get(key))
            if field_edit and json_edit and _as_text(field_value) != _as_text(json_value):
                message = _(
                    "%(field)s foi alterado no campo e no JSON com valores diferentes: altere só um dos dois."
                ) % {"field": self.fields[key].label}
                self.add_error(key, message)
                self.add_error("settings", message)
            elif field_edit:
                new[key] = field_value
        if self.errors:
            return cleaned
        try:
            cleaned["settings"] = clean_settings(new, stored=stored)
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                self.add_error(field if field in self.fields else "settings", messages_)
        return cleaned


def _as_text(value) -> str:
    return "" if value is None else str(value).strip()


@admin.register(Tenant)
class TenantAdmin(MissingIsNotFoundMixin, ModelAdmin):
    """Superusers manage every tenant; a tenant admin sees and edits only their own."""

    form = TenantForm
    list_display = ("name", "slug", "active", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "active")}),
        (
            _("3C Plus"),
            {
                "fields": (
                    "threecplus_domain",
                    "threecplus_api_key",
                    "threecplus_campaign_id",
                    "threecplus_base_url",
                    "threecplus_agent_token",
                    "connection_test",
                    "webhook",
                )
            },
        ),
        (_("Configurações (JSON)"), {"fields": ("settings",)}),
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        tenant = user_tenant(request.user)
        return queryset.filter(pk=tenant.pk) if tenant and is_tenant_admin(request.user) else queryset.none()

    def save_model(self, request, obj, form, change):
        before = {}
        if change:
            stored = Tenant.objects.get(pk=obj.pk)
            before = {"nome": stored.name, "ativa": stored.active, **masked(stored.settings or {})}
        super().save_model(request, obj, form, change)
        after = {"nome": obj.name, "ativa": obj.active, **masked(obj.settings or {})}
        changes = audit.diff(before, after)
        if changes:
            audit.record(obj, request.user, audit.Action.SETTINGS_CHANGED, obj, changes=changes)

    def get_readonly_fields(self, request, obj=None):
        shown = ("connection_test", "webhook")
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

    @admin.display(description=_("Conexão"))
    def connection_test(self, obj):
        if obj is None or obj.pk is None:
            return _("Salve a empresa para testar a conexão.")
        url = reverse("admin:tenants_tenant_test_connection", args=[obj.pk])
        return format_html(
            '<a href="{}" class="inline-block font-medium px-3 py-2 rounded-default bg-primary-600 text-white" '
            'hx-get="{}" hx-target="#connection-result" role="button" data-testid="test-connection">{}</a>'
            '<div id="connection-result" class="mt-3" aria-live="polite"></div>'
            '<p class="mt-2 text-sm text-base-500">{}</p>',
            url,
            url,
            _("Testar conexão"),
            _("Testa as configurações salvas: salve antes de testar uma mudança."),
        )

    @admin.display(description=_("Webhook do 3C Plus"))
    def webhook(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        url = settings.PUBLIC_BASE_URL + reverse("threecplus_webhook", args=[obj.webhook_secret])
        rotate = reverse("admin:tenants_tenant_rotate_webhook", args=[obj.pk])
        # The rotate button posts the change form (and its CSRF token) to the rotate URL.
        return format_html(
            '<div class="flex gap-2 items-center"><input id="webhook-url" readonly value="{}" '
            'class="border border-base-200 rounded-default px-3 py-2 w-full max-w-2xl font-mono text-xs">'
            '<button type="button" class="border border-base-200 rounded-default px-3 py-2" '
            "onclick=\"navigator.clipboard.writeText(document.getElementById('webhook-url').value);"
            "this.textContent='{}'\">{}</button>"
            '<button type="submit" formaction="{}" formnovalidate '
            'class="border border-red-300 text-red-700 rounded-default px-3 py-2" '
            "onclick=\"return confirm('{}')\">{}</button></div>"
            '<p class="mt-2 text-sm text-base-500">{}</p>',
            url,
            _("Copiado"),
            _("Copiar"),
            rotate,
            _("Gerar um novo endereço? O atual deixa de funcionar."),
            _("Rotacionar"),
            _(
                "Cadastre este endereço no 3C Plus (Configurações → Integrações → Webhook) para os eventos "
                "call-was-connected e call-history-was-created."
            ),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/rotacionar-webhook/",
                self.admin_site.admin_view(self.rotate_webhook_view),
                name="tenants_tenant_rotate_webhook",
            ),
            path(
                "<int:pk>/testar-3cplus/",
                self.admin_site.admin_view(self.test_connection_view),
                name="tenants_tenant_test_connection",
            ),
            *super().get_urls(),
        ]

    def rotate_webhook_view(self, request, pk):
        tenant = self.get_queryset(request).filter(pk=pk).first()
        if request.method != "POST" or tenant is None or not self.has_change_permission(request, tenant):
            raise Http404
        tenant.webhook_secret = new_webhook_secret()
        tenant.save(update_fields=["webhook_secret"])
        audit.record(tenant, request.user, audit.Action.WEBHOOK_ROTATED, tenant)
        messages.success(request, _("Novo endereço de webhook gerado: atualize-o no 3C Plus."))
        return redirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))

    def test_connection_view(self, request, pk):
        tenant = self.get_queryset(request).filter(pk=pk).first()
        if tenant is None or not self.has_change_permission(request, tenant):
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "tenant": tenant,
            "result": test_connection(tenant),
            "opts": self.opts,
            "title": _("Teste de conexão com o 3C Plus"),
        }
        partial = request.headers.get("HX-Request")
        template = "_connection_result.html" if partial else "connection_test.html"
        return TemplateResponse(request, f"admin/tenants/tenant/{template}", context)


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
class UserAdmin(MissingIsNotFoundMixin, DjangoUserAdmin, ModelAdmin):
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


@functools.cache
def audit_labels() -> dict:
    """What the trail calls a recorded field: the settings editor's titles, else the model field's name."""
    labels = {}
    for model in apps.get_models():
        if model._meta.app_label in ("core", "attendance", "dialer", "tenants"):
            for field in model._meta.concrete_fields:
                labels.setdefault(field.name, field.verbose_name)
    labels.update({key: spec["title"] for key, spec in SETTINGS_SCHEMA["properties"].items()})
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
        return format_html_join(
            "",
            '<div><span class="font-medium">{}</span>: {} → {}</div>',
            (
                (label, before or "—", after or "—")
                for label, before, after in audit.readable(obj.changes, audit_labels())
            ),
        )
