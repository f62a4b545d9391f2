"""The régua's results per step and channel: sent, delivered, read, replied (on any channel, to the last touch),
and the agreements and payments of the following N days attributed to the last touch (the newest régua message the
client got before them, within N days).
"""

import datetime
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from attendance.models import Agreement, Message, Payment
from messaging.models import Send, Step

DELIVERED = [Message.Status.DELIVERED, Message.Status.READ]
SENT = [Message.Status.SENT, *DELIVERED]


def last_touch(client_ref: str, at_ref: str, days: int):
    """The step of the newest send to the client in the `days` before the event."""
    return Subquery(
        Send.objects.filter(
            client=OuterRef(client_ref),
            created_at__lte=OuterRef(at_ref),
            created_at__gte=OuterRef(at_ref) - datetime.timedelta(days=days),
        )
        .order_by("-created_at", "-id")
        .values("step_id")[:1]
    )


def results(tenant, *, days: int = 7, since: datetime.date | None = None) -> list[dict]:
    since = since or timezone.localdate() - datetime.timedelta(days=30)
    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    # A reply counts for the last touch before it: not for a send another one followed before the reply came.
    later_send = Send.objects.filter(
        client=OuterRef(OuterRef("client")),
        created_at__gt=OuterRef(OuterRef("created_at")),
        created_at__lte=OuterRef("sent_at"),
    )
    replied = Message.objects.filter(
        client=OuterRef("client"),
        direction=Message.Direction.INBOUND,
        sent_at__gte=OuterRef("created_at"),
        sent_at__lte=OuterRef("created_at") + datetime.timedelta(days=days),
    ).filter(~Exists(later_send))
    sends = (
        Send.objects.filter(tenant=tenant, created_at__gte=start)
        .annotate(replied=Exists(replied))
        .values("step_id")
        .annotate(
            sent=Count("pk", filter=Q(message__status__in=SENT)),
            delivered=Count("pk", filter=Q(message__status__in=DELIVERED)),
            read=Count("pk", filter=Q(message__status=Message.Status.READ)),
            replied_n=Count("pk", filter=Q(replied=True)),
            failed=Count("pk", filter=Q(message__status=Message.Status.FAILED)),
        )
    )
    by_step = {row["step_id"]: row for row in sends}
    agreements = (
        Agreement.objects.filter(tenant=tenant, created_at__gte=start)
        .exclude(status__in=[Agreement.Status.REJECTED, Agreement.Status.CANCELLED])
        .annotate(touch=last_touch("client", "created_at", days))
        .exclude(touch=None)
        .values("touch")
        .annotate(n=Count("pk"), total=Sum("total"))
    )
    payments = (
        Payment.objects.filter(tenant=tenant, created_at__gte=start)
        .annotate(touch=last_touch("client", "created_at", days))
        .exclude(touch=None)
        .values("touch")
        .annotate(n=Count("pk"), total=Sum(F("amount")))
    )
    agreements = {row["touch"]: row for row in agreements}
    payments = {row["touch"]: row for row in payments}
    rows = []
    for step in Step.objects.filter(tenant=tenant).select_related("creditor"):
        counts = by_step.get(step.pk, {})
        rows.append(
            {
                "step": step,
                "creditor": step.creditor.name,
                "channel": step.get_channel_display(),
                "sent": counts.get("sent", 0),
                "delivered": counts.get("delivered", 0),
                "read": counts.get("read", 0),
                "replied": counts.get("replied_n", 0),
                "failed": counts.get("failed", 0),
                "agreements": agreements.get(step.pk, {}).get("n", 0),
                "agreements_total": agreements.get(step.pk, {}).get("total") or Decimal("0"),
                "payments": payments.get(step.pk, {}).get("n", 0),
                "payments_total": payments.get(step.pk, {}).get("total") or Decimal("0"),
            }
        )
    return rows
