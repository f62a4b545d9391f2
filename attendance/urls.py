from django.urls import path

from attendance import views

app_name = "attendance"

urlpatterns = [
    path("", views.home, name="home"),
    path("retornos/", views.callbacks, name="callbacks"),
    path("proxima-ligacao/", views.next_call, name="next_call"),
    path("ligacoes/", views.call_stream, name="call_stream"),
    path("<int:client_id>/", views.client_page, name="client"),
    path("<int:client_id>/tabular/", views.tabulate, name="tabulate"),
    path("<int:client_id>/tabulacoes/<int:disposition_id>/alterar/", views.change_tabulation, name="change_tabulation"),
    path("<int:client_id>/telefones/<int:phone_id>/errado/", views.mark_phone_wrong, name="phone_wrong"),
    path("<int:client_id>/nao-ligar/", views.do_not_call, name="do_not_call"),
    path("<int:client_id>/simular/", views.simulate, name="simulate"),
    path("<int:client_id>/acordo/", views.create_agreement, name="agreement"),
    path(
        "<int:client_id>/acordos/<int:agreement_id>/termo-de-quitacao/",
        views.termo_de_quitacao,
        name="termo_de_quitacao",
    ),
    path("<int:client_id>/historico/", views.timeline_more, name="timeline"),
    path("<int:client_id>/gravacoes/<int:call>/", views.call_recording, name="recording"),
]
