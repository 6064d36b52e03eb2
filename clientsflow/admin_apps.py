from django.contrib.admin.apps import AdminConfig


class ClientsFlowAdminConfig(AdminConfig):
    """Django's admin with our site as `admin.site` (sections, "System", the "Needs you" index).

    In its own module: beside `ClientsflowConfig`, Django could no longer tell which config is
    the clientsflow app's default.
    """

    default_site = "clientsflow.admin_site.ClientsFlowAdminSite"
