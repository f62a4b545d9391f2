from django import template

from common.parsing import format_brl, format_cpf, format_phone

register = template.Library()

register.filter("brl", format_brl)
register.filter("cpf", format_cpf)
register.filter("phone", format_phone)
