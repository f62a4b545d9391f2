"""Enviar para discador: the selection frozen into an export and sent to 3C Plus in batches by a worker
(resumable, each contact exactly once). The live removal from the campaigns is dialer.removals.

- create: an export made once per submission token, frozen now (command line) or queued ("Enviar" in the admin);
- selection: what a queued export selects, replayed from the Carteira's filters;
- freeze: the selection frozen into items (a PostgreSQL statement and a portable one);
- sending, uploads: the worker's run, its batches posted exactly once;
- recovery: after a crash, on a sweep, and on demand;
- items, any_of: the bookkeeping the steps share.
"""

from dialer.exports.create import create_export, default_list_name, queue_export
from dialer.exports.items import enqueue_export, export_lock
from dialer.exports.recovery import RESUMABLE, resume_export, retry_failures, sweep_exports
from dialer.exports.sending import CONTACT_FIELDS, contact_data, prepare_export, run_export

__all__ = [
    "CONTACT_FIELDS",
    "RESUMABLE",
    "contact_data",
    "create_export",
    "default_list_name",
    "enqueue_export",
    "export_lock",
    "prepare_export",
    "queue_export",
    "resume_export",
    "retry_failures",
    "run_export",
    "sweep_exports",
]
