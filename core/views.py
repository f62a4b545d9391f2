from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from tenants.roles import is_back_office


class LoginView(auth_views.LoginView):
    """One login for everyone, in the admin's look; operators cannot use the admin's own login."""

    template_name = "admin/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(admin.site.each_context(self.request))
        context["app_path"] = self.request.get_full_path()
        return context


@login_required
def home(request):
    """Back office to the admin; operators to their workspace."""
    if is_back_office(request.user) and request.user.is_staff:
        return redirect("admin:index")
    return redirect("attendance:home")
