import hashlib
from secrets import token_urlsafe

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants import secrets


def new_webhook_secret() -> str:
    return token_urlsafe(32)


def new_encrypted_webhook_secret() -> str:
    return secrets.encrypt(new_webhook_secret())


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Tenant(models.Model):
    """A collection agency. Every piece of wallet data belongs to exactly one."""

    name = models.CharField(_("nome"), max_length=200)
    slug = models.SlugField(_("identificador"), unique=True)
    active = models.BooleanField(_("ativa"), default=True)
    settings = models.JSONField(_("configurações"), default=dict, blank=True)
    # The path secret of the 3C Plus webhook URL (/dialer/webhooks/3cplus/<secret>/), rotatable: encrypted at
    # rest like the 3C Plus token (a database dump does not let anyone post events). Read and set it as
    # `webhook_secret`.
    webhook_secret_encrypted = models.TextField(editable=False, default=new_encrypted_webhook_secret)
    # The webhook finds its tenant by this digest: an index lookup on a value the caller cannot choose
    # leaks nothing about the secret through timing; the secret itself is then compared in constant time.
    webhook_secret_digest = models.CharField(max_length=64, unique=True, editable=False, null=True)
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)

    class Meta:
        verbose_name = _("empresa")
        verbose_name_plural = _("empresas")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.webhook_secret_digest = secret_digest(self.webhook_secret)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "webhook_secret" in update_fields:
            fields = set(update_fields) - {"webhook_secret"}
            kwargs["update_fields"] = {*fields, "webhook_secret_encrypted", "webhook_secret_digest"}
        super().save(*args, **kwargs)

    def setting(self, key: str, default=None):
        """One tenant setting as stored (secrets still encrypted): the single reader of `settings`."""
        return (self.settings or {}).get(key, default)

    @property
    def stored_settings(self) -> dict:
        """A copy of every stored setting, for code that reads several keys or writes the whole object back."""
        return dict(self.settings or {})

    @property
    def webhook_secret(self) -> str:
        return secrets.decrypt(self.webhook_secret_encrypted)

    @webhook_secret.setter
    def webhook_secret(self, value: str):
        self.webhook_secret_encrypted = secrets.encrypt(value)


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrador")
    SUPERVISOR = "supervisor", _("Supervisor")
    OPERATOR = "operador", _("Operador")


# Roles that work in the admin; operators live on the atendimento pages.
BACK_OFFICE_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})


class Membership(models.Model):
    """A user's place in one tenant. One tenant per user keeps every request's scope unambiguous."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership", verbose_name=_("usuário")
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("empresa"))
    role = models.CharField(_("papel"), max_length=20, choices=Role.choices, default=Role.OPERATOR)
    threecplus_agent_id = models.CharField(
        _("ID do agente no 3C Plus"),
        max_length=40,
        blank=True,
        help_text=_(
            "Usado para abrir o atendimento quando uma ligação deste operador conecta e para enviar a "
            "tabulação ao 3C Plus como qualificação (em nome deste agente)."
        ),
    )

    # Set by the console's polling, at most every few seconds: the live panel counts who is waiting.
    console_seen_at = models.DateTimeField(_("console aberto em"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("vínculo")
        verbose_name_plural = _("vínculos")

    def __str__(self):
        return f"{self.user} — {self.tenant} ({self.get_role_display()})"


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant):
        return self.filter(tenant=tenant)


class TenantOwned(models.Model):
    """Base for every model that belongs to a tenant: the field, the scoped manager, the index prefix."""

    # No index of its own: every tenant-owned table has a composite index or unique constraint
    # leading with tenant, and a redundant index costs every insert of a million-row import.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, verbose_name=_("empresa"), related_name="+", db_index=False
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class AuditEvent(TenantOwned):
    """Who did what to which record, with the fields before and after: the tenant admins' audit trail."""

    class Action(models.TextChoices):
        SETTINGS_CHANGED = "configuracoes", _("Configurações alteradas")
        WEBHOOK_ROTATED = "webhook_rotacionado", _("Webhook rotacionado")
        CREDITOR_CREATED = "credor_criado", _("Credor criado")
        CREDITOR_CHANGED = "credor_alterado", _("Regras do credor alteradas")
        AGREEMENT_CREATED = "acordo_gerado", _("Acordo gerado")
        AGREEMENT_DECIDED = "acordo_decidido", _("Acordo aprovado, rejeitado ou cancelado")
        AGREEMENT_BROKEN = "acordo_quebrado", _("Acordo quebrado")
        AGREEMENT_SETTLED = "acordo_quitado", _("Acordo quitado")
        PAYMENT_POSTED = "pagamento", _("Pagamento registrado")
        PAYMENT_REVERSED = "estorno", _("Pagamento estornado")
        DIALER_EXPORT = "envio_discador", _("Envio ao discador")
        QUALIFICATIONS_CHANGED = "qualificacoes", _("Mapeamento de qualificações alterado")
        DO_NOT_CALL = "nao_ligar", _("Não ligar alterado")
        TWO_FACTOR_ENROLLED = "segundo_fator_ativado", _("Segundo fator cadastrado")
        TWO_FACTOR_RESET = "segundo_fator_redefinido", _("Segundo fator redefinido")
        RECOVERY_CODE_USED = "codigo_recuperacao", _("Código de recuperação usado")
        ACCESS_UNLOCKED = "acesso_desbloqueado", _("Acesso desbloqueado")
        DISPOSITION_CHANGED = "tabulacao_alterada", _("Tabulação alterada")
        CALLING_WINDOW_CHANGED = "janela_discagem", _("Janela de discagem por UF alterada")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("usuário"),
    )
    action = models.CharField(_("ação"), max_length=30, choices=Action.choices)
    object_type = models.CharField(_("tipo"), max_length=60, blank=True)
    object_id = models.CharField(_("ID"), max_length=40, blank=True)
    object_repr = models.CharField(_("registro"), max_length=200, blank=True)
    changes = models.JSONField(_("alterações"), default=dict, blank=True, help_text=_("campo: [antes, depois]"))
    at = models.DateTimeField(_("quando"), auto_now_add=True)

    class Meta:
        verbose_name = _("evento de auditoria")
        verbose_name_plural = _("eventos de auditoria")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-at"], name="audit_tenant_time"),
            models.Index(fields=["tenant", "action", "-at"], name="audit_tenant_action"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} — {self.object_repr}"
