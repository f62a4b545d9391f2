"""The admin side of Carteira imports: a large file goes to the worker and its page shows the progress."""

from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import display

from common import uploads
from core import import_jobs
from core.models import WalletImport
from tenants.admin_base import BoundedImportForm, ReadOnlyMixin, TenantScopedAdmin, nowrap_moment
from tenants.roles import user_tenant


class WalletImportForm(BoundedImportForm):
    """The Carteira's import form: larger files (the worker imports them), refused at once (in Portuguese) when
    they cannot be read, and their rows counted to choose between the preview and the worker."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.formats = formats
        self.wallet_rows = None

    def limits(self) -> uploads.Limits:
        return uploads.queued_limits()

    def clean(self):
        cleaned = super().clean()
        upload, index = cleaned.get("import_file"), cleaned.get("format")
        if upload is None or index in (None, ""):
            return cleaned
        self.file_format = self.formats[int(index)]().get_extension()
        try:
            read_rows = not self.too_large_inline()
            self.wallet_rows = import_jobs.inspect_upload(upload, self.file_format, read_rows=read_rows)
        except import_jobs.UnreadableFile as error:
            self.add_error("import_file", error.message)
        return cleaned

    def too_large_inline(self) -> bool:
        """Whether the file is too large for the request to read (whatever its rows): the worker imports it."""
        inline = uploads.inline_limits()
        size = self.cleaned_data["import_file"].size or 0
        return size > inline.upload or (self.content_size or 0) > inline.uncompressed

    def goes_to_worker(self) -> bool:
        rows = self.wallet_rows
        return self.too_large_inline() or rows is None or rows > import_jobs.inline_max_rows()


class QueuedImportMixin:
    """Put before the import-export mixins: a file larger than import_jobs.inline_max_rows() is stored and
    imported by the worker, and the browser goes to its progress page; smaller ones keep the preview."""

    import_form_class = WalletImportForm

    def create_import_form(self, request):
        # import_action builds the form again after this mixin looked at it: one reading of the file is enough.
        if not hasattr(request, "_wallet_import_form"):
            request._wallet_import_form = super().create_import_form(request)
        return request._wallet_import_form

    def import_action(self, request, **kwargs):
        tenant = user_tenant(request.user)
        if request.method == "POST" and tenant is not None and self.has_import_permission(request):
            form = self.create_import_form(request)
            if form.is_valid() and form.goes_to_worker():
                job = import_jobs.queue_import(
                    tenant, request.user, form.cleaned_data["import_file"], form.file_format, form.wallet_rows
                )
                messages.success(request, _("Importação #%(id)s na fila: acompanhe aqui.") % {"id": job.pk})
                return redirect(reverse("admin:core_walletimport_change", args=[job.pk]))
        return super().import_action(request, **kwargs)

    def get_import_context_data(self, **kwargs):
        return {**super().get_import_context_data(**kwargs), "inline_max_rows": import_jobs.inline_max_rows()}


@admin.register(WalletImport)
class WalletImportAdmin(ReadOnlyMixin, TenantScopedAdmin):
    """Importações da carteira: each file sent from the Carteira, its progress and its error report."""

    list_display = ("id", "display_created", "file_name", "display_status", "display_progress", "requested_by")
    list_filter = (("status", ChoicesDropdownFilter),)
    list_filter_submit = True
    list_select_related = ("requested_by",)
    search_fields = ("file_name",)
    show_full_result_count = False
    readonly_fields = (
        "progress_bar",
        "file_name",
        "display_size",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
    )
    fieldsets = (
        (None, {"fields": ("progress_bar",)}),
        (_("Arquivo"), {"fields": ("file_name", "display_size", ("requested_by", "created_at"))}),
    )

    @display(description=_("enviada em"), ordering="created_at")
    def display_created(self, obj):
        return nowrap_moment(obj.created_at)

    @display(
        description=_("situação"),
        label={"na_fila": "info", "importando": "info", "concluida": "success", "falhou": "danger"},
    )
    def display_status(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("progresso"))
    def display_progress(self, obj):
        total = obj.total_rows if obj.total_rows is not None else "?"
        return _("%(done)s/%(total)s linhas, %(errors)s com erro") % {
            "done": obj.processed_rows,
            "total": total,
            "errors": obj.error_rows,
        }

    @display(description=_("tamanho"))
    def display_size(self, obj):
        return f"{obj.file_size / 1024 / 1024:.1f} MB".replace(".", ",")

    @display(description=_("progresso"))
    def progress_bar(self, obj):
        return render_to_string("admin/core/walletimport/_progress.html", progress_context(obj))

    def get_urls(self):
        return [
            path(
                "<int:pk>/progresso/",
                self.admin_site.admin_view(self.progress_view),
                name="core_walletimport_progress",
            ),
            path(
                "<int:pk>/erros.csv",
                self.admin_site.admin_view(self.errors_view),
                name="core_walletimport_errors",
            ),
            *super().get_urls(),
        ]

    def get_queryset(self, request):
        # A payment file's import has its page under Pagamentos, with the payment import's permissions.
        return super().get_queryset(request).filter(kind=WalletImport.Kind.WALLET)

    def _job_or_404(self, request, pk):
        job = self.get_queryset(request).filter(pk=pk).first()
        if job is None or not self.has_view_permission(request, job):
            raise Http404
        return job

    def progress_view(self, request, pk):
        job = self._job_or_404(request, pk)
        return TemplateResponse(request, "admin/core/walletimport/_progress.html", progress_context(job))

    def errors_view(self, request, pk):
        job = self._job_or_404(request, pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="importacao-{job.pk}-erros.csv"'
        import_jobs.write_error_report(job, response)
        return response


def progress_context(job: WalletImport) -> dict:
    return import_jobs.progress_context(
        job,
        progress_url=reverse("admin:core_walletimport_progress", args=[job.pk]),
        errors_url=reverse("admin:core_walletimport_errors", args=[job.pk]),
        back_url=reverse("admin:core_client_changelist"),
        back_label=_("ver a carteira"),
    )
