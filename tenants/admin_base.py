"""The admin base every tenant-owned model uses: scoping is structural, not remembered."""

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import Http404, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from import_export.admin import ExportMixin
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import RangeDateFilter, RelatedDropdownFilter
from unfold.contrib.import_export.forms import ImportForm
from unfold.widgets import UnfoldForeignKeyRawIdWidget

from common import uploads
from common.money_fields import BRLDecimalField, MoneyInput
from common.parsing import in_date_window, parse_ids
from tenants.models import Role
from tenants.roles import user_role, user_tenant


def has_tenant_field(model) -> bool:
    return any(f.name == "tenant" for f in model._meta.get_fields())


def scope_queryset(queryset, request):
    """Rows of the request's tenant; superusers see every tenant; a user without a tenant sees nothing."""
    if request.user.is_superuser:
        return queryset
    tenant = user_tenant(request.user)
    if tenant is None:
        return queryset.none()
    if queryset.model is get_user_model():
        return queryset.filter(membership__tenant=tenant)
    if not has_tenant_field(queryset.model):
        return queryset.none()
    return queryset.filter(tenant=tenant)


def scoped_related(related_model, request):
    """The rows a relation field may point at: the tenant's own, or its members for users; None for a model
    that belongs to no tenant (content types, permissions)."""
    if has_tenant_field(related_model) or related_model is get_user_model():
        return scope_queryset(related_model._default_manager.all(), request)
    return None


class ScopedRawIdWidget(UnfoldForeignKeyRawIdWidget):
    """A raw-id input whose label (the name printed beside the id) is looked up only among `queryset`.

    Django's widget looks the id up in the model's default manager: any id typed or passed in the query
    string would print another tenant's client or user.
    """

    def __init__(self, rel, admin_site, queryset, attrs=None, using=None):
        self.queryset = queryset
        super().__init__(rel, admin_site, attrs, using)

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            if not self.queryset.filter(**{key: value}).exists():
                return "", ""
        except (ValueError, ValidationError):
            return "", ""
        return super().label_and_url_for_value(value)


class MissingIsNotFoundMixin:
    """Another tenant's row and a deleted row look the same: a 404, not Django's redirect naming the id."""

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404


class SelectedIdsMixin:
    def response_action(self, request, queryset, **kwargs):
        """An action posted with a selected id that is not one (edited by hand) is refused with a message:
        Django would pass it to the database's lookup and answer 500."""
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if selected and parse_ids(selected) is None:
            messages.error(request, _("Seleção inválida: marque os itens na lista e tente de novo."))
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset, **kwargs)


class ValidSelectionAutocompleteMixin:
    """An autocomplete redrawn with a posted value that is not an id (a rejected form shows what was sent) draws
    nothing selected: Django's widget passes it to the database's lookup and answers 500."""

    def optgroups(self, name, value, attr=None):
        target = self.field.remote_field.model._meta.get_field(self.field.remote_field.field_name)
        valid = []
        for item in value:
            try:
                target.to_python(item)
            except ValidationError:
                continue
            valid.append(item)
        return super().optgroups(name, valid, attr)


class ValidSelectionAutocompleteSelect(ValidSelectionAutocompleteMixin, AutocompleteSelect):
    pass


class ValidSelectionAutocompleteSelectMultiple(ValidSelectionAutocompleteMixin, AutocompleteSelectMultiple):
    pass


class TenantScopedMixin(SelectedIdsMixin, MissingIsNotFoundMixin):
    """Queryset, choices, saves and permissions of an admin or inline, scoped to the user's tenant.

    `view_roles` may read; `edit_roles` may add, change and delete. Superusers may do everything.
    """

    view_roles = frozenset({Role.ADMIN, Role.SUPERVISOR})
    edit_roles = frozenset({Role.ADMIN, Role.SUPERVISOR})

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.DecimalField):
            kwargs["form_class"] = BRLDecimalField  # people type 1.234,56
            kwargs["widget"] = MoneyInput
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = ValidSelectionAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        scoped = scoped_related(db_field.remote_field.model, request)
        if scoped is not None:
            kwargs.setdefault("queryset", scoped)
            if db_field.name in self.raw_id_fields and "widget" not in kwargs:
                kwargs["widget"] = ScopedRawIdWidget(
                    db_field.remote_field, self.admin_site, kwargs["queryset"], using=kwargs.get("using")
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = ValidSelectionAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        scoped = scoped_related(db_field.remote_field.model, request)
        if scoped is not None:
            kwargs.setdefault("queryset", scoped)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        """The query string may prefill a relation only with rows the form would accept."""
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if not isinstance(field, models.ForeignKey | models.ManyToManyField):
                continue
            scoped = scoped_related(field.related_model, request)
            if scoped is None:
                continue
            values = value if isinstance(value, list) else [value]
            key = "pk" if field.many_to_many else field.target_field.name
            try:
                found = scoped.filter(**{f"{key}__in": values}).count()
            except (ValueError, ValidationError):
                found = -1
            if found != len(set(values)):
                del initial[name]
        return initial

    def _role_allows(self, request, roles) -> bool:
        if request.user.is_superuser:
            return True
        return request.user.is_active and request.user.is_staff and user_role(request.user) in roles

    def has_module_permission(self, request):
        return self._role_allows(request, self.view_roles)

    def has_view_permission(self, request, obj=None):
        return self._role_allows(request, self.view_roles | self.edit_roles)

    def has_add_permission(self, request, *args):
        return self._role_allows(request, self.edit_roles)

    def has_change_permission(self, request, obj=None):
        return self._role_allows(request, self.edit_roles)

    def has_delete_permission(self, request, obj=None):
        return self._role_allows(request, self.edit_roles)

    # django-import-export: exporting is reading, importing is writing (its defaults let any staff user do both).
    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def has_import_permission(self, request):
        return self.has_add_permission(request)


class TenantExportMixin(ExportMixin):
    """Export for a read-only admin (put before TenantScopedAdmin): the scoped rows, to whoever may view them."""

    def has_export_permission(self, request):
        return self.has_view_permission(request)


class ReadOnlyMixin:
    """Records written by the system (logs, exports): seen in the admin, never edited there."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TenantScopedAdmin(TenantScopedMixin, ModelAdmin):
    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser and has_tenant_field(self.model):
            exclude.append("tenant")
        return exclude

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        if request.user.is_superuser and has_tenant_field(self.model) and "tenant" not in display:
            display.append("tenant")
        return display

    def assign_tenant(self, request, obj) -> None:
        """What a tenant's user saves is their tenant's, whatever the form said; superusers choose."""
        if not request.user.is_superuser and has_tenant_field(self.model):
            tenant = user_tenant(request.user)
            if tenant is None:
                raise PermissionDenied
            obj.tenant = tenant

    def save_model(self, request, obj, form, change):
        self.assign_tenant(request, obj)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        """Inline rows inherit the parent's tenant."""
        parent_tenant = getattr(form.instance, "tenant", None)
        if parent_tenant is not None and has_tenant_field(formset.model):
            for inline_form in formset.forms:
                if inline_form.has_changed() or not inline_form.instance.pk:
                    inline_form.instance.tenant = parent_tenant
        super().save_formset(request, form, formset, change)


class TenantScopedTabularInline(TenantScopedMixin, TabularInline):
    exclude = ("tenant",)


class TenantRelatedFilter(RelatedDropdownFilter):
    """A foreign-key filter whose choices are only the user's tenant's rows."""

    def field_choices(self, field, request, model_admin):
        related = field.remote_field.model
        queryset = scope_queryset(related._default_manager.all(), request)
        return [(obj.pk, str(obj)) for obj in queryset.order_by(*related._meta.ordering or ["pk"])]


class DayRangeFilter(RangeDateFilter):
    """A date range over a date-time field, both days included, in local time, typed as dd/mm/aaaa.

    Unfold's filter stops at midnight before the last day and reads 09/01/2026 month first (September).
    """

    def queryset(self, request, queryset):
        filters = {}
        try:
            for suffix, lookup in (("_from", "__date__gte"), ("_to", "__date__lte")):
                value = self.used_parameters.get(self.parameter_name + suffix)
                if isinstance(value, str) and value:
                    day = forms.DateField().to_python(value)
                    if not in_date_window(day):
                        return None
                    filters[self.parameter_name + lookup] = day
            return queryset.filter(**filters)
        except (ValueError, ValidationError):  # not a date: the list unfiltered, as for any filter it cannot read
            return None


def nowrap_moment(moment):
    """A date-time for a list column: dd/mm/aaaa hh:mm on one line (the long pt-BR format wraps in three)."""
    if moment is None:
        return "—"
    return format_html(
        '<span class="whitespace-nowrap">{}</span>', timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")
    )


def nowrap(text):
    return format_html('<span class="whitespace-nowrap">{}</span>', text)


# Import pages: what every app's admin import shares (the Carteira, payments, messages).


class BoundedImportForm(ImportForm):
    """The form of every admin import page: a file past the page's limit, or an XLSX that expands past it, is
    refused in Portuguese before anything parses it (common/uploads.py), and the page states the limit."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["import_file"].help_text = _("Tamanho máximo do arquivo: %(size)s.") % {
            "size": uploads.megabytes(self.limits().upload)
        }
        self.content_size = None

    def limits(self) -> uploads.Limits:
        """The page reads the file whole in the request, in its preview."""
        return uploads.inline_limits()

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        self.content_size = uploads.content_size(upload, self.limits())
        return upload


class PartialImportMixin:
    """An import whose bad rows are listed and skipped while the good rows can still be confirmed."""

    def import_action(self, request, **kwargs):
        """Lets the good rows be imported when some rows are invalid: the bad ones are listed and skipped."""
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None)
        result = context.get("result") if context else None
        if (
            result is not None
            and "confirm_form" not in context
            and not result.has_errors()
            and result.has_validation_errors()
            and len(result.invalid_rows) < result.total_rows
        ):
            context["confirm_form"] = self.create_confirm_form(request, import_form=context["form"])
            messages.warning(
                request,
                _("%(bad)d linha(s) com erro serão ignoradas; as demais %(good)d podem ser importadas.")
                % {"bad": len(result.invalid_rows), "good": result.total_rows - len(result.invalid_rows)},
            )
        return response

    def process_import(self, request, **kwargs):
        with transaction.atomic():
            return super().process_import(request, **kwargs)

    def add_success_message(self, result, request):
        super().add_success_message(result, request)
        if result.invalid_rows:
            lines = ", ".join(str(row.number + 1) for row in result.invalid_rows[:20])
            messages.warning(
                request,
                _("%(count)d linha(s) ignoradas por erro (linhas do arquivo: %(lines)s).")
                % {"count": len(result.invalid_rows), "lines": lines},
            )
